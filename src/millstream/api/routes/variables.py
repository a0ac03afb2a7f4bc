"""``/variables`` (op and admin): list, read, create, change and delete variables."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from millstream.api.auth import Role, User, require_role
from millstream.api.deps import PageDep, StoreDep, utcnow
from millstream.api.problems import Problem, problem_responses
from millstream.api.routes.common import STANDARD_ERRORS
from millstream.api.schemas.secrets import (
    VariableCollection,
    VariableIn,
    VariableOut,
    VariablePatch,
)
from millstream.exceptions import InvalidInputError
from millstream.secrets import service
from millstream.secrets.errors import FernetKeyError
from millstream.secrets.masking import MASK, is_sensitive_name
from millstream.store.interfaces import Store

router = APIRouter(tags=["Variables"], responses=problem_responses(*STANDARD_ERRORS))

Op = Annotated[User, Depends(require_role(Role.OP))]


@contextlib.contextmanager
def secrets_errors(where: str = "body") -> Iterator[None]:
    """Input the secrets module refuses names ``where`` (the 422 points at that field); a
    missing Fernet key is a 500 saying so."""
    try:
        yield
    except FernetKeyError as exc:
        raise Problem(500, str(exc)) from None
    except InvalidInputError as exc:
        exc.field = exc.field or where
        raise


def _variable(store: Store, key: str) -> VariableOut:
    record = store.variables.get(key)
    if record is None:
        raise Problem(404, f"no variable {key!r}")
    # A secret variable's value is write-only over the web, for every role, as on the
    # UI's variables page: only a process holding the Fernet key can read it back.
    if is_sensitive_name(key):
        value = MASK
    else:
        with secrets_errors():
            value = service.get_variable(store, key) or ""
    return VariableOut(key=key, value=value, description=record.description,
                       is_encrypted=record.is_encrypted)


@router.get("/variables", response_model=VariableCollection,
            summary="List variables (values of secret keys as ***)")
def list_variables(store: StoreDep, page: PageDep, user: Op) -> VariableCollection:
    with secrets_errors():
        views, total = service.list_variables(store, page.limit, page.offset)
    return VariableCollection(
        variables=[VariableOut(key=v.key, value=v.value, description=v.description,
                               is_encrypted=v.is_encrypted) for v in views],
        total_entries=total)


@router.get("/variables/{variable_key}", response_model=VariableOut, summary="Get a variable")
def get_variable(variable_key: str, store: StoreDep, user: Op) -> VariableOut:
    return _variable(store, variable_key)


@router.post("/variables", response_model=VariableOut, summary="Create a variable",
             responses=problem_responses(409, 500))
def create_variable(body: VariableIn, store: StoreDep, user: Op) -> VariableOut:
    if store.variables.get(body.key) is not None:
        raise Problem(409, f"a variable {body.key!r} already exists (change it with PATCH)")
    with secrets_errors():
        service.set_variable(store, body.key, body.value, user.username, utcnow(),
                             body.description)
    return _variable(store, body.key)


@router.patch("/variables/{variable_key}", response_model=VariableOut,
              summary="Change a variable's value", responses=problem_responses(500))
def patch_variable(variable_key: str, body: VariablePatch, store: StoreDep,
                   user: Op) -> VariableOut:
    _variable(store, variable_key)
    with secrets_errors():
        service.set_variable(store, variable_key, body.value, user.username, utcnow(),
                             body.description)
    return _variable(store, variable_key)


@router.delete("/variables/{variable_key}", status_code=204, response_class=Response,
               summary="Delete a variable")
def delete_variable(variable_key: str, store: StoreDep, user: Op) -> Response:
    if not service.delete_variable(store, variable_key, user.username, utcnow()):
        raise Problem(404, f"no variable {variable_key!r}")
    return Response(status_code=204)
