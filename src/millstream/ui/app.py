"""Wires the UI into the web server: its pages, static files, state colours and error pages."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from millstream.api.problems import Problem
from millstream.exceptions import ConflictError, DomainError, NotFoundError, StaleRecordError
from millstream.ui.errors import PageError
from millstream.ui.session import Forbidden, LoginRequired, page_context
from millstream.ui.states import STYLES
from millstream.ui.templating import render

log = logging.getLogger("millstream.ui")

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Register every UI router, the static files and the UI's error pages on ``app``."""
    from millstream.ui.routes import routers

    app.mount("/static/ui", StaticFiles(directory=STATIC), name="ui-static")
    app.add_api_route("/ui/states.css", states_css, methods=["GET"], include_in_schema=False)
    for router in routers():
        app.include_router(router)
    app.add_exception_handler(LoginRequired, _to_login)  # type: ignore[arg-type]
    app.add_exception_handler(Forbidden, _forbidden)  # type: ignore[arg-type]
    app.add_exception_handler(PageError, _page_error)  # type: ignore[arg-type]
    app.add_exception_handler(Problem, _problem)  # type: ignore[arg-type]
    app.add_exception_handler(StaleRecordError, _stale)  # type: ignore[arg-type]
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _bad_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=1)
def _states_css_text() -> str:
    rules = [
        f".st-{s.state} {{ background-color: {s.colour}; color: {s.text}; fill: {s.colour}; }}"
        for s in STYLES.values()
    ]
    rules.append(".st-none { border-color: #9aa6b1; }")
    return "\n".join(rules) + "\n"


def states_css() -> Response:
    """The state colours as CSS classes (``.st-success`` ...), made from one table."""
    return Response(_states_css_text(), media_type="text/css",
                    headers={"Cache-Control": "public, max-age=3600"})


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    user = getattr(request.state, "millstream_user", None)
    context = page_context(request, user)
    context.update(status=status, title=title, message=message, nav="")
    return render(request, "error.html", context, status_code=status)


async def _to_login(request: Request, exc: LoginRequired) -> Response:
    return RedirectResponse("/login?" + urlencode({"next": exc.next_url}), status_code=303)


async def _forbidden(request: Request, exc: Forbidden) -> Response:
    return _error_page(request, 403, "Not allowed",
                       f"{exc.what[:1].upper()}{exc.what[1:]} needs the {exc.needed} role or "
                       "higher. Ask an administrator if you need it.")


async def _page_error(request: Request, exc: PageError) -> Response:
    titles = {400: "Bad request", 403: "Not allowed", 404: "Not found", 409: "Conflict"}
    return _error_page(request, exc.status, titles.get(exc.status, "Error"), exc.message)


async def _problem(request: Request, exc: Problem) -> Response:
    return _error_page(request, exc.status, "Error", exc.detail)


async def _domain_error(request: Request, exc: DomainError) -> Response:
    """The domain's errors, mapped once for every page: any other exception is a 500."""
    if isinstance(exc, NotFoundError):
        return _error_page(request, 404, "Not found", str(exc))
    if isinstance(exc, ConflictError):
        return _error_page(request, 409, "Conflict", str(exc))
    return _error_page(request, 400, "Bad request", str(exc))


async def _stale(request: Request, exc: StaleRecordError) -> Response:
    return _error_page(request, 409, "Changed meanwhile",
                       f"Someone else changed this while you acted; reload and try again. ({exc})")


async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return _error_page(request, 400, "Bad request", "; ".join(problems) or "bad request")


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code == 404:
        return _error_page(request, 404, "Not found", f"There is no page at {request.url.path}.")
    return _error_page(request, exc.status_code, "Error", str(exc.detail))


__all__ = ["install", "states_css"]
