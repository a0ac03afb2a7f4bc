"""The web server's application without its pages: the REST API at ``/api/v1``.

``create_api_app`` wires the settings, one database engine and a store per request; the API
is a sub-application of its own, so its OpenAPI schema (``/api/v1/openapi.json``) and its
problem-details errors cover the API alone. The UI, which builds on the API's sessions and
dependencies, adds its pages to this application (``millstream.ui.server.create_app``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

from fastapi import FastAPI
from starlette.routing import Mount
from starlette.types import ASGIApp

import millstream
from millstream.api.auth import RequestContextMiddleware
from millstream.api.body_limit import BodyLimitMiddleware
from millstream.api.deps import AppContext, StoreOpener
from millstream.api.docs import install_docs
from millstream.api.metrics_route import install_metrics
from millstream.api.problems import (
    Problem,
    install_problem_handlers,
    on_problem,
    problem_response,
)
from millstream.config import Settings, load_settings
from millstream.model.limits import use_limits
from millstream.private_files import make_private_folder
from millstream.store.interfaces import Store

log = logging.getLogger("millstream.api")

API_PREFIX = "/api/v1"
SECRET_KEY_FILE = "webserver_secret_key"


def create_api_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """The web server without the UI: the REST API under ``/api/v1``, login sessions and the
    store per request; ``millstream.ui.server.create_app`` adds the UI's pages to it.

    Without ``store`` each request gets a SQL store over one engine for the settings'
    database (whose schema must be migrated). A SQL store given here lends its engine the
    same way; any other store (an in-memory one) is shared by every request.
    """
    from millstream.secrets.settings import use_settings

    settings = settings or load_settings()
    use_settings(settings)  # the Fernet key and secrets file are those of these settings
    use_limits(settings.limits.limits())
    opener, close, watch = _store_opener(settings, store)
    context = AppContext(settings, opener, _secret_key(settings), close)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        watch()  # while the server serves: its database watchdog
        try:
            yield
        finally:
            context.close()

    app = FastAPI(title="millstream", version=millstream.__version__, docs_url=None,
                  redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.millstream = context
    # Auth dependencies raise Problem on the UI's pages too; the UI may handle it its own way.
    app.add_exception_handler(Problem, on_problem)
    app.router.routes.append(_ApiMount(API_PREFIX, app=create_api(context), name="api"))
    install_metrics(app, context)
    app.add_middleware(RequestContextMiddleware, context=context)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.limits.max_request_bytes)
    return app


class _ApiMount(Mount):
    """The API's mount: every path under it, even one holding a (percent-encoded) newline,
    reaches the API and gets its problem details."""

    def __init__(self, path: str, app: ASGIApp, name: str) -> None:
        super().__init__(path, app=app, name=name)
        self.path_regex = re.compile(self.path_regex.pattern, re.DOTALL)


def create_api(context: AppContext) -> FastAPI:
    """The REST API alone, as mounted at ``/api/v1`` (its paths are relative to it)."""
    from millstream.api.routes import api_router

    api = FastAPI(
        title="millstream REST API", version=millstream.__version__,
        description="DAGs, runs, task instances, logs, XComs, pools, variables, connections "
                    "and users of a millstream installation. Log in with a session cookie "
                    "(the web UI) or send `Authorization: Bearer <token>` "
                    "(`millstream tokens create`). Errors are RFC 9457 problem details.",
        openapi_url="/openapi.json", docs_url=None, redoc_url=None,
    )
    install_docs(api)  # the explorer, with its assets served here rather than from a CDN
    api.state.millstream = context
    install_problem_handlers(api)
    _install_store_error_handlers(api)
    api.include_router(api_router())
    return api


def _install_store_error_handlers(api: FastAPI) -> None:
    from fastapi import Request
    from fastapi.responses import JSONResponse

    from millstream.store.sql.engine import DatabaseError, describe_database_error

    async def on_database(request: Request, exc: Exception) -> JSONResponse:
        log.error("database error on %s %s: %s", request.method, request.url.path,
                  describe_database_error(exc))
        return problem_response(503, "the metadata database is unavailable or failed; "
                                     "try again later")

    api.add_exception_handler(DatabaseError, on_database)


def _store_opener(
    settings: Settings, store: Store | None
) -> tuple[StoreOpener, Callable[[], None], Callable[[], None]]:
    """How requests get a store, what closes it, and what starts the database watchdog."""
    from millstream.store.sql import SqlStore, make_engine

    if store is not None and not isinstance(store, SqlStore):
        shared = store

        @contextlib.contextmanager
        def open_shared() -> Iterator[Store]:
            yield shared

        return open_shared, lambda: None, lambda: None
    watch: Callable[[], None] = lambda: None  # noqa: E731
    if isinstance(store, SqlStore):
        engine, close = store.engine, (lambda: None)
    else:
        from millstream.store.sql.engine import ensure_sqlite_file
        from millstream.store.sql.watchdog import DatabaseWatchdog, cut_after

        database = settings.database
        ensure_sqlite_file(database.url)
        engine = make_engine(database.url, **database.engine_kwargs())
        watchdog = DatabaseWatchdog(
            engine, "web server", warn_after_s=database.stall_warning_s,
            cut_after_s=cut_after(database.stall_warning_s, database.statement_timeout_s),
        )
        watch = watchdog.start

        def close() -> None:
            watchdog.stop()
            engine.dispose()

    @contextlib.contextmanager
    def open_sql() -> Iterator[Store]:
        request_store = SqlStore(engine)
        try:
            yield request_store
        finally:
            request_store.close()

    return open_sql, close, watch


def _secret_key(settings: Settings) -> bytes:
    """The key that signs CSRF tokens: from the settings, else kept in the home folder so
    that pages served before a restart still submit."""
    if settings.webserver.secret_key is not None:
        return settings.webserver.secret_key.get_secret_value().encode()
    path = Path(settings.core.home) / SECRET_KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    make_private_folder(path.parent)
    temporary = path.with_name(f".{SECRET_KEY_FILE}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(secrets.token_urlsafe(32).encode())
    try:
        os.link(temporary, path)  # fails if another process made one first: use theirs
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_bytes().strip()
