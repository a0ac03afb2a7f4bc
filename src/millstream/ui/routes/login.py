"""Logging in and out of the web UI."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from millstream.api import auth
from millstream.api.deps import StoreDep
from millstream.ui.session import CsrfChecked, OptionalUser, page_context, safe_next
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
    store: StoreDep,
    _csrf: CsrfChecked,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next_url: Annotated[str, Form(alias="next")] = "/dags",
) -> Any:
    """Check the password and start a session; a mistake says only that something was wrong,
    never whether the username exists."""
    target = safe_next(next_url)
    user = auth.authenticate(store, username.strip(), password) if username and password \
        else None
    if user is None:
        return _form(request, target, error=FAILED, username=username.strip(), status_code=401)
    response = RedirectResponse(target, status_code=303)
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
