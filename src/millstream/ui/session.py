"""Who is looking at a page: the logged-in user, their role, and the CSRF token of their forms.

The login itself (sessions, passwords, CSRF tokens) belongs to :mod:`millstream.api.auth`;
this module turns it into what pages need: a redirect to the login page for a visitor,
a 403 page for a role that may not do something, and the values every page shows.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request

from millstream.api import auth
from millstream.api.problems import Problem
from millstream.ui.errors import PageError


class LoginRequired(Exception):
    """The page needs a logged-in user; the handler redirects to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class Forbidden(Exception):
    """The user's role may not do this; the handler shows a 403 page naming the role needed."""

    def __init__(self, needed: str, what: str) -> None:
        super().__init__(f"{what} needs the {needed} role")
        self.needed = needed
        self.what = what


def role_name(user: auth.User) -> str:
    return user.role.value


def has_role(user: auth.User, needed: str) -> bool:
    return user.has_role(needed)


def safe_next(target: str | None) -> str:
    """A same-site path to go back to after logging in (anything else goes to the DAG list)."""
    if not target:
        return "/dags"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return "/dags"
    return target


OptionalUser = Annotated[auth.User | None, Depends(auth.optional_user)]


def page_user(request: Request, user: OptionalUser) -> auth.User:
    """The logged-in user of a page, or a redirect to the login page."""
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    request.state.page_context = page_context(request, user)
    return user


def page_context(request: Request, user: auth.User | None) -> dict[str, Any]:
    """The values every page shows: the user, what their role allows, the CSRF token."""
    return {
        "user": user,
        "role": role_name(user) if user is not None else None,
        "can_edit": user is not None and has_role(user, "op"),
        "is_admin": user is not None and has_role(user, "admin"),
        "csrf_token": auth.csrf_token(request),
        "csrf_field": auth.CSRF_FIELD,
        "admin_links": admin_links(user),
    }


def admin_links(user: auth.User | None) -> list[dict[str, str]]:
    """The admin pages this user may open, beyond pools and the audit log."""
    if user is None or not has_role(user, "op"):
        return []
    links = [{"href": "/admin/variables", "label": "Variables", "nav": "variables"},
             {"href": "/admin/connections", "label": "Connections", "nav": "connections"}]
    if has_role(user, "admin"):
        links.append({"href": "/admin/users", "label": "Users", "nav": "users"})
    return links


PageUser = Annotated[auth.User, Depends(page_user)]
"""A page's logged-in user (a visitor is sent to the login page)."""


def require_role(needed: str, what: str) -> Any:
    """A dependency: the page's user, who must have at least the ``needed`` role."""

    def check(user: PageUser) -> auth.User:
        if not has_role(user, needed):
            raise Forbidden(needed, what)
        return user

    return check


def username(user: auth.User) -> str:
    return user.username


async def checked_csrf(request: Request, user: OptionalUser) -> None:
    """A dependency for every form a page posts: the page's CSRF token must come with it."""
    await _as_page_error(auth.verify_csrf(request, user))


async def checked_login_csrf(request: Request) -> None:
    """The CSRF check of the login form: it looks no user up, so it opens no store and the
    login holds no database transaction while a password is hashed."""
    await _as_page_error(auth.verify_login_csrf(request))


async def _as_page_error(check: Awaitable[None]) -> None:
    try:
        await check
    except Problem as exc:
        raise PageError(exc.status, "This form has expired or did not come from millstream's "
                                    "own pages (its CSRF token is missing or wrong). Go back, "
                                    "reload the page and try again.") from None

OpUser = Annotated[auth.User, Depends(require_role("op", "changing DAGs, runs and tasks"))]
AdminUser = Annotated[auth.User, Depends(require_role("admin", "managing users"))]
CsrfChecked = Annotated[None, Depends(checked_csrf)]
LoginCsrfChecked = Annotated[None, Depends(checked_login_csrf)]

__all__ = [
    "AdminUser", "CsrfChecked", "Forbidden", "LoginCsrfChecked", "LoginRequired", "OpUser",
    "OptionalUser", "PageUser", "admin_links", "checked_csrf", "checked_login_csrf",
    "has_role", "page_context", "page_user", "require_role", "role_name", "safe_next",
    "username",
]
