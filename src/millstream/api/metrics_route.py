"""``/metrics``: Prometheus' scrape of the web server (and, in standalone, of everything).

Readable with ``Authorization: Bearer <[metrics] token>`` (Prometheus' ``authorization``
scrape setting sends it so), or by a logged-in admin (session cookie or API token).
"""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Request, Response

from millstream.api import accounts
from millstream.api.accounts import Role
from millstream.api.auth import SESSION_COOKIE
from millstream.api.deps import AppContext, utcnow
from millstream.observability.exposition import (
    CONTENT_TYPE,
    DatabaseCollector,
    all_groups,
    render,
    serving_registry,
)

PATH = "/metrics"


def install_metrics(app: FastAPI, context: AppContext) -> None:
    """Add ``/metrics`` to the web server's application."""
    registry = serving_registry(all_groups(), [DatabaseCollector(context.open_store)])

    @app.get(PATH, include_in_schema=False)
    def metrics(request: Request) -> Response:
        if not context.settings.metrics.enabled:
            return Response("metrics are off ([metrics] enabled = false)\n", 404,
                            media_type="text/plain")
        if not _allowed(request, context):
            return Response("send 'Authorization: Bearer <[metrics] token>', or log in as "
                            "an admin\n", 401, {"WWW-Authenticate": "Bearer"},
                            media_type="text/plain")
        return Response(render(registry), media_type=CONTENT_TYPE)


def _allowed(request: Request, context: AppContext) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    bearer = credential.strip() if scheme.lower() == "bearer" else ""
    token = context.settings.metrics.token
    if bearer and token is not None and hmac.compare_digest(
            bearer.encode(), token.get_secret_value().encode()):
        return True
    secret = request.cookies.get(SESSION_COOKIE)
    if not bearer and not secret:
        return False
    now = utcnow()
    with context.open_store() as store, store.transaction(read_only=True):
        user = (accounts.user_for_token(store, bearer, now) if bearer
                else accounts.user_for_session(store, secret or "", now))
    return user is not None and user.has_role(Role.ADMIN)
