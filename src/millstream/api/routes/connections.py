"""``/connections`` (op and admin): list, read, create, change and delete connections.

Passwords are accepted and never returned: responses say only ``password_set``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from millstream.api.auth import Role, User, require_role
from millstream.api.deps import PageDep, StoreDep, utcnow
from millstream.api.problems import Problem, problem_responses
from millstream.api.routes.common import STANDARD_ERRORS
from millstream.api.routes.variables import secrets_errors
from millstream.api.schemas.secrets import (
    ConnectionCollection,
    ConnectionIn,
    ConnectionOut,
    ConnectionPatch,
)
from millstream.secrets import service
from millstream.secrets.connection import Connection
from millstream.store.interfaces import Store

router = APIRouter(tags=["Connections"], responses=problem_responses(*STANDARD_ERRORS))

Op = Annotated[User, Depends(require_role(Role.OP))]


def connection_out(view: service.ConnectionView) -> ConnectionOut:
    return ConnectionOut(
        conn_id=view.conn_id, conn_type=view.conn_type, description=view.description,
        host=view.host, schema=view.schema, login=view.login, port=view.port,
        extra=view.extra, password_set=view.password_set, is_encrypted=view.is_encrypted,
        is_extra_encrypted=view.is_extra_encrypted,
    )


def _stored(store: Store, conn_id: str) -> Connection:
    with secrets_errors():
        conn = service.get_connection_record(store, conn_id)
    if conn is None:
        raise Problem(404, f"no connection {conn_id!r}")
    return conn


def _out(store: Store, conn_id: str) -> ConnectionOut:
    conn = _stored(store, conn_id)
    record = store.connections.get(conn_id)
    flags = (record.is_encrypted, record.is_extra_encrypted) if record else (False, False)
    return connection_out(service.connection_view(conn, *flags))


def _extra(value: str | dict[str, Any] | None) -> str | None:
    return json.dumps(value) if isinstance(value, dict) else value


@router.get("/connections", response_model=ConnectionCollection,
            summary="List connections (without passwords)")
def list_connections(store: StoreDep, page: PageDep, user: Op) -> ConnectionCollection:
    with secrets_errors():
        views, total = service.list_connections(store, page.limit, page.offset)
    return ConnectionCollection(connections=[connection_out(v) for v in views],
                                total_entries=total)


@router.get("/connections/{conn_id}", response_model=ConnectionOut,
            summary="Get a connection (without its password)")
def get_connection(conn_id: str, store: StoreDep, user: Op) -> ConnectionOut:
    return _out(store, conn_id)


@router.post("/connections", response_model=ConnectionOut, summary="Create a connection",
             responses=problem_responses(409, 500))
def create_connection(body: ConnectionIn, store: StoreDep, user: Op) -> ConnectionOut:
    if store.connections.get(body.conn_id) is not None:
        raise Problem(409, f"a connection {body.conn_id!r} already exists (change it with "
                           "PATCH)")
    conn = Connection(body.conn_id, body.conn_type, body.description, body.host, body.login,
                      body.password, body.schema_, body.port, _extra(body.extra))
    with secrets_errors():
        service.set_connection(store, conn, user.username, utcnow())
    return _out(store, body.conn_id)


@router.patch("/connections/{conn_id}", response_model=ConnectionOut,
              summary="Change a connection: fields left out keep their value",
              responses=problem_responses(500))
def patch_connection(conn_id: str, body: ConnectionPatch, store: StoreDep,
                     user: Op) -> ConnectionOut:
    conn = _stored(store, conn_id)
    for name in body.model_fields_set:
        value = getattr(body, name)
        if name == "schema_":
            conn.schema = value
        elif name == "extra":
            conn.extra = _extra(value)
        elif name == "conn_type" and value is None:
            raise Problem(422, "body.conn_type: a connection needs a type")
        else:
            setattr(conn, name, value)
    with secrets_errors():
        service.set_connection(store, conn, user.username, utcnow())
    return _out(store, conn_id)


@router.delete("/connections/{conn_id}", status_code=204, response_class=Response,
               summary="Delete a connection")
def delete_connection(conn_id: str, store: StoreDep, user: Op) -> Response:
    if not service.delete_connection(store, conn_id, user.username, utcnow()):
        raise Problem(404, f"no connection {conn_id!r}")
    return Response(status_code=204)
