"""Errors as RFC 9457 problem details (``application/problem+json``), FastAPI's own included.

Every error response has ``type``, ``title``, ``status`` and a ``detail`` that says what is
wrong and where (a 422 names each bad field as ``body.conf``, ``query.limit`` ...).

The domain's errors are mapped here and nowhere else: ``NotFoundError`` is a 404,
``ConflictError`` (and a ``StaleRecordError``) a 409, ``InvalidInputError`` a 422. Any
other exception, ``KeyError`` and ``ValueError`` included, is a bug and a 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from millstream.exceptions import (
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    StaleRecordError,
)

PROBLEM_JSON = "application/problem+json"


class FieldProblem(BaseModel):
    """One bad input: where it is (``body.conf``) and what is wrong with it."""

    loc: str
    msg: str


class ProblemDetails(BaseModel):
    """An error response (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


class Problem(Exception):
    """Raise in a route to answer with a problem: ``Problem(404, "DAG 'x' not found")``."""

    def __init__(self, status: int, detail: str, *, headers: Mapping[str, str] | None = None,
                 errors: Sequence[FieldProblem] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        self.errors = list(errors) if errors is not None else None


def problem_response(status: int, detail: str, headers: Mapping[str, str] | None = None,
                     errors: Sequence[FieldProblem] | None = None) -> JSONResponse:
    """The problem-details response for ``status`` with ``detail``."""
    body = ProblemDetails(title=_title(status), status=status, detail=detail,
                          errors=list(errors) if errors is not None else None)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status,
                        media_type=PROBLEM_JSON, headers=dict(headers or {}))


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries declaring problem bodies for these statuses."""
    return {
        status: {"model": ProblemDetails, "description": _title(status),
                 "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/"
                                                                "ProblemDetails"}}}}
        for status in statuses
    }


def field_name(loc: Sequence[int | str]) -> str:
    """A validation error's location as a dotted name: ``body.conf``, ``query.limit``."""
    return ".".join(str(part) for part in loc) or "request"


def describe_validation(errors: Sequence[Mapping[str, Any]]) -> list[FieldProblem]:
    """FastAPI's validation errors as field problems, each naming its field."""
    problems: list[FieldProblem] = []
    for error in errors:
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        problems.append(FieldProblem(loc=field_name(error.get("loc", ())), msg=message))
    return problems


async def on_problem(request: Request, exc: Exception) -> JSONResponse:
    """The handler of :class:`Problem` (the UI may install its own on its application)."""
    assert isinstance(exc, Problem)
    return problem_response(exc.status, exc.detail, exc.headers, exc.errors)


def domain_problem(exc: DomainError | StaleRecordError) -> JSONResponse:
    """The problem-details response for one of the domain's errors."""
    if isinstance(exc, StaleRecordError):
        return problem_response(409, f"changed by someone else meanwhile, try again: {exc}")
    if isinstance(exc, NotFoundError):
        return problem_response(404, str(exc))
    if isinstance(exc, InvalidInputError):
        if exc.field is None:
            return problem_response(422, str(exc))
        message = str(exc).removeprefix(exc.field).lstrip(": ")
        return problem_response(422, f"{exc.field}: {message}",
                                errors=[FieldProblem(loc=exc.field, msg=message)])
    if isinstance(exc, ConflictError):
        return problem_response(409, str(exc))
    raise exc  # a new kind of domain error, not mapped yet: a bug, so a 500


def install_problem_handlers(app: FastAPI) -> None:
    """Answer Problem, HTTP, validation and the domain's errors with problem details."""

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such resource: {request.method} {request.url.path}"
        elif exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "body: cannot be parsed (send JSON text in UTF-8)"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem_response(exc.status_code, detail, exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = describe_validation(exc.errors())
        detail = "; ".join(f"{p.loc}: {p.msg}" for p in problems) or "invalid request"
        return problem_response(422, detail, errors=problems)

    async def on_domain(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError | StaleRecordError)
        return domain_problem(exc)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(DomainError, on_domain)
    app.add_exception_handler(StaleRecordError, on_domain)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
