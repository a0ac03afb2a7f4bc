"""Logging in and out of the web UI."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from millstream.api import auth
from millstream.api.deps import StoreDep, app_context
from millstream.api.login_gate import TooManyLogins, client_address, login_gate
from millstream.ui.session import (
    CsrfChecked,
    LoginCsrfChecked,
    OptionalUser,
    page_context,
    safe_next,
)
from millstream.ui.templating import render

router = APIRouter()

FAILED = "Wrong username or password."


@router.get("/login", include_in_schema=False)
def login_form(request: Request, user: OptionalUser, next: str | None = None) -> Any:
    """The login form; someone already logged in goes straight on."""
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _form(request, safe_next(next))


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    _csrf: LoginCsrfChecked,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next_url: Annotated[str, Form(alias="next")] = "/dags",
) -> Any:
    """Check the password and start a session; a mistake says only that something was wrong,
    never whether the username exists. After too many failures the account, or the
    address, waits (429) before any password is checked again.

    No transaction is held while the password is hashed (see ``api.login_gate``).
    """
    target = safe_next(next_url)
    name = username.strip()
    try:
        user = login_gate(request).check(name, password, client_address(request))
    except TooManyLogins as refused:
        response = _form(request, target, error=f"{str(refused).capitalize()}.",
                         username=name, status_code=429)
        response.headers["Retry-After"] = str(refused.retry_after_s)
        return response
    if user is None:
        return _form(request, target, error=FAILED, username=name, status_code=401)
    response = RedirectResponse(target, status_code=303)
    with app_context(request).open_store() as store:
        auth.start_session(response, store, user)
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, store: StoreDep, _csrf: CsrfChecked) -> RedirectResponse:
    response = RedirectResponse("/login", status_code=303)
    auth.end_session(request, response, store)
    return response


def _form(request: Request, target: str, error: str | None = None, username: str = "",
          status_code: int = 200) -> Any:
    context = page_context(request, None)
    context.update(next=target, error=error, username=username)
    return render(request, "login.html", context, status_code=status_code)


__all__ = ["router"]
