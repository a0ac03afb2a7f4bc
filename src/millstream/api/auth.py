"""Who a request acts as, and whether it may: sessions, bearer tokens, roles, CSRF.

A browser logs in once and then sends a session cookie (an opaque secret; the server keeps
its hash, so logging out ends it). Scripts send ``Authorization: Bearer <token>``. Every
route declares the least role it needs with :func:`require_role`. A request authenticated
by its cookie must also prove, for any unsafe method, that it comes from one of our own
pages: the ``csrf_token`` form field or the ``X-CSRF-Token`` header must hold the value
of :func:`csrf_token` (an HMAC of a per-browser cookie and the session cookie). Bearer
requests carry no ambient credentials, so they need no CSRF token.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from millstream.api import accounts
from millstream.api.accounts import Role, User
from millstream.api.deps import AppContext, StoreDep, app_context, utcnow
from millstream.api.problems import Problem
from millstream.config import Settings
from millstream.store.interfaces import Store

SESSION_COOKIE = "millstream_session"
CSRF_COOKIE = "millstream_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
DEFAULT_SESSION_LIFETIME_S = 43200.0
CSRF_COOKIE_MAX_AGE_S = 365 * 24 * 3600

_USER = "millstream_user"
_VIA = "millstream_auth_via"  # "session" or "token"
_NEW_SEED = "millstream_new_csrf_seed"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

_bearer = HTTPBearer(
    auto_error=False, scheme_name="BearerToken",
    description="An API token made with `millstream tokens create --user NAME`.",
)
_serving: contextvars.ContextVar[AppContext | None] = contextvars.ContextVar(
    "millstream_serving", default=None)

__all__ = [
    "CSRF_FIELD", "CSRF_HEADER", "SESSION_COOKIE", "Role", "User",
    "csrf_token", "end_session", "optional_user", "require_role", "start_session",
    "verify_csrf", "verify_login_csrf",
]


# -- who is asking -----------------------------------------------------------------------------
def optional_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    store: StoreDep,
) -> User | None:
    """The user of the request's bearer token or session cookie, or None (a dependency).

    A bearer token that is unknown, revoked or expired is a 401 at once; a session
    cookie that has ended just means nobody is logged in.
    """
    if hasattr(request.state, _USER):
        user: User | None = getattr(request.state, _USER)
        return user
    now = utcnow()
    user, via = None, None
    if credentials is not None:
        user, via = accounts.user_for_token(store, credentials.credentials, now), "token"
        if user is None:
            raise Problem(401, "the bearer token is unknown, revoked or expired",
                          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    else:
        secret = request.cookies.get(SESSION_COOKIE)
        if secret:
            user = accounts.user_for_session(store, secret, now)
            via = "session" if user is not None else None
    setattr(request.state, _USER, user)
    setattr(request.state, _VIA, via)
    return user


def require_role(role: Role | str) -> Callable[..., Awaitable[User]]:
    """A dependency that returns the logged-in user if their role includes ``role``.

    Nobody logged in is a 401; a role too low is a 403; a cookie-authenticated unsafe
    request without the right CSRF token is a 403.
    """
    needed = Role(role)

    async def dependency(
        request: Request, user: Annotated[User | None, Depends(optional_user)],
    ) -> User:
        if user is None:
            raise Problem(401, "authentication required: log in, or send the header "
                               "'Authorization: Bearer <token>'",
                          headers={"WWW-Authenticate": "Bearer"})
        if not user.has_role(needed):
            raise Problem(403, f"user {user.username!r} has the role {user.role.value!r}; "
                               f"this needs {needed.value!r} or higher")
        if getattr(request.state, _VIA, None) == "session" and request.method not in SAFE_METHODS:
            await _check_csrf(request)
        return user

    dependency.__name__ = f"require_{needed.value}"
    return dependency


# -- sessions ----------------------------------------------------------------------------------
def start_session(response: Response, store: Store, user: User, *,
                  settings: Settings | None = None) -> None:
    """Log ``user`` in: store a new session and set its cookie on ``response``."""
    settings = settings or _serving_settings()
    lifetime = (settings.webserver.session_lifetime_s if settings is not None
                else DEFAULT_SESSION_LIFETIME_S)
    secret = accounts.open_login_session(store, user.username, utcnow(),
                                         timedelta(seconds=lifetime))
    response.set_cookie(SESSION_COOKIE, secret, max_age=int(lifetime), path="/",
                        httponly=True, samesite="lax", secure=_secure(settings))


def end_session(request: Request, response: Response, store: Store) -> None:
    """Log out: end the request's session in the store and clear its cookie."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        accounts.close_login_session(store, secret)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=_secure(_serving_settings()))


# -- CSRF --------------------------------------------------------------------------------------
def csrf_token(request: Request) -> str:
    """The CSRF token for forms of this page (put it in a ``csrf_token`` field).

    It is bound to this browser (a random cookie set on first use) and to its session.
    """
    seed = request.cookies.get(CSRF_COOKIE) or getattr(request.state, _NEW_SEED, None)
    if not seed:
        seed = secrets.token_urlsafe(24)
        setattr(request.state, _NEW_SEED, seed)  # RequestContextMiddleware sets the cookie
    return _expected_token(request, seed)


async def verify_csrf(
    request: Request, user: Annotated[User | None, Depends(optional_user)],
) -> None:
    """A dependency: unsafe requests, unless made with a bearer token, need the CSRF token."""
    if request.method in SAFE_METHODS or getattr(request.state, _VIA, None) == "token":
        return
    await _check_csrf(request)


async def verify_login_csrf(request: Request) -> None:
    """A dependency for the login form, whose poster is nobody yet: the CSRF check alone,
    without looking a user up."""
    if request.method not in SAFE_METHODS:
        await _check_csrf(request)


async def _check_csrf(request: Request) -> None:
    submitted = request.headers.get(CSRF_HEADER)
    if not submitted and request.headers.get("content-type", "").startswith(_FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        submitted = value if isinstance(value, str) else None
    seed = request.cookies.get(CSRF_COOKIE)
    if not seed or not submitted or not hmac.compare_digest(
            submitted, _expected_token(request, seed)):
        raise Problem(403, f"CSRF check failed: send the page's csrf_token as the form field "
                           f"{CSRF_FIELD!r} or the header {CSRF_HEADER!r} (reload the page "
                           "and try again)")


def _expected_token(request: Request, seed: str) -> str:
    binding = request.cookies.get(SESSION_COOKIE, "")
    message = f"{seed}|{binding}".encode()
    return hmac.new(app_context(request).secret_key, message, hashlib.sha256).hexdigest()


# -- the middleware that knows which application serves the request ----------------------------
class RequestContextMiddleware:
    """Makes the serving application's context known while a request runs, and sets the
    CSRF cookie when :func:`csrf_token` made one."""

    def __init__(self, app: ASGIApp, context: AppContext) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        secure = _secure(self.context.settings)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and state.get(_NEW_SEED):
                cookie = Response()
                cookie.set_cookie(CSRF_COOKIE, state[_NEW_SEED], max_age=CSRF_COOKIE_MAX_AGE_S,
                                  path="/", httponly=True, samesite="lax", secure=secure)
                set_cookie = [h for h in cookie.raw_headers if h[0] == b"set-cookie"]
                message = {**message, "headers": [*message.get("headers", []), *set_cookie]}
            await send(message)

        token = _serving.set(self.context)
        try:
            await self.app(scope, receive, send_with_cookie)
        finally:
            _serving.reset(token)


def _serving_settings() -> Settings | None:
    context = _serving.get()
    return None if context is None else context.settings


def _secure(settings: Settings | None) -> bool:
    """Cookies are Secure when users reach the server over https."""
    base_url = settings.webserver.base_url if settings is not None else None
    return bool(base_url and base_url.lower().startswith("https://"))
