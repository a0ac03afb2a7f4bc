"""Admin pages: pools (op edits, everyone reads), the audit log (op), users (admin)."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from millstream.api import accounts
from millstream.api.deps import StoreDep
from millstream.exceptions import DomainError
from millstream.model.states import TaskState
from millstream.services import pools as pool_service
from millstream.ui.dagpage import int_param, utcnow
from millstream.ui.session import AdminUser, CsrfChecked, OpUser, PageUser
from millstream.ui.templating import render

router = APIRouter(prefix="/admin")

AUDIT_LIMITS = (50, 200, 1000)


class FormProblem(Exception):
    """Bad input in an admin form: the page is shown again with this message."""


@contextlib.contextmanager
def form_errors() -> Iterator[None]:
    """What an action refuses (bad input, a conflict, an unknown name) becomes a message
    shown above the form; any other error is a bug and stays one."""
    try:
        yield
    except DomainError as exc:
        raise FormProblem(str(exc)) from None


# -- pools ---------------------------------------------------------------------------------------
def _pools_page(request: Request, store: Any, error: str | None = None,
                form: dict[str, str] | None = None) -> Any:
    with store.transaction():
        pools = store.pools.list()
        busy = store.task_instances.in_states([TaskState.RUNNING, TaskState.QUEUED])
    running: Counter[str] = Counter()
    queued: Counter[str] = Counter()
    for ti in busy:
        (running if ti.state is TaskState.RUNNING else queued)[ti.pool] += ti.pool_slots
    rows = [{"name": name, "slots": slots, "description": description,
             "running": running[name], "queued": queued[name],
             "open": slots - running[name] - queued[name]}
            for name, slots, description in pools]
    return render(request, "admin/pools.html", {
        "nav": "pools", "pools": rows, "error": error,
        "form": form or {"name": "", "slots": "", "description": ""},
    }, status_code=400 if error else 200)


@router.get("/pools", include_in_schema=False)
def pools_page(request: Request, store: StoreDep, _: PageUser, edit: str | None = None) -> Any:
    form = None
    if edit:
        found = [p for p in store.pools.list() if p[0] == edit]
        if found:
            form = {"name": found[0][0], "slots": str(found[0][1]), "description": found[0][2]}
    return _pools_page(request, store, form=form)


@router.post("/pools", include_in_schema=False)
def save_pool(
    request: Request, store: StoreDep, user: OpUser, _csrf: CsrfChecked,
    name: Annotated[str, Form()] = "", slots: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Any:
    form = {"name": name, "slots": slots, "description": description}
    try:
        try:
            count = int(slots)
        except ValueError:
            raise FormProblem(f"Slots must be a whole number, not {slots!r}.") from None
        with form_errors():
            pool_service.set_pool(store, name.strip(), count, user.username, utcnow(), description)
    except FormProblem as exc:
        return _pools_page(request, store, str(exc), form)
    return RedirectResponse("/admin/pools", status_code=303)


@router.post("/pools/delete", include_in_schema=False)
def delete_pool(request: Request, store: StoreDep, user: OpUser, _csrf: CsrfChecked,
                name: Annotated[str, Form()] = "") -> Any:
    try:
        with form_errors():
            pool_service.delete_pool(store, name, user.username, utcnow())
    except FormProblem as exc:
        return _pools_page(request, store, str(exc))
    return RedirectResponse("/admin/pools", status_code=303)


# -- audit log -----------------------------------------------------------------------------------
@router.get("/audit", include_in_schema=False)
def audit_page(request: Request, store: StoreDep, _: OpUser, dag_id: str | None = None,
               limit: str | None = None) -> Any:
    """The latest user actions, newest first, of every DAG or of one."""
    count = int_param(limit, AUDIT_LIMITS[1])
    count = count if count in AUDIT_LIMITS else AUDIT_LIMITS[1]
    records = store.audit.list(dag_id=dag_id or None, limit=count)
    return render(request, "admin/audit.html", {
        "nav": "audit", "records": records, "dag_id": dag_id or "", "limit": count,
        "limits": AUDIT_LIMITS,
    })


# -- users ---------------------------------------------------------------------------------------
def _users_page(request: Request, store: Any, error: str | None = None,
                form: dict[str, str] | None = None, status_code: int = 200) -> Any:
    users = store.users.list(limit=1000)
    return render(request, "admin/users.html", {
        "nav": "users", "users": users, "error": error, "roles": [r.value for r in
                                                                   accounts.Role],
        "form": form or {"username": "", "role": "viewer", "email": ""},
    }, status_code=400 if error else status_code)


@router.get("/users", include_in_schema=False)
def users_page(request: Request, store: StoreDep, _: AdminUser) -> Any:
    return _users_page(request, store)


@router.post("/users", include_in_schema=False)
def create_user(
    request: Request, store: StoreDep, user: AdminUser, _csrf: CsrfChecked,
    username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "viewer", email: Annotated[str, Form()] = "",
) -> Any:
    form = {"username": username, "role": role, "email": email}
    try:
        with form_errors():
            accounts.create_user(store, username.strip(), password, role, user.username,
                                 utcnow(), email.strip() or None)
    except FormProblem as exc:
        return _users_page(request, store, str(exc), form)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/update", include_in_schema=False)
def update_user(
    request: Request, store: StoreDep, user: AdminUser, _csrf: CsrfChecked,
    username: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Any:
    """Change a user's role and, when one is given, their password."""
    try:
        if username == user.username and role and role != user.role.value:
            raise FormProblem("You cannot change your own role: ask another admin.")
        with form_errors():
            accounts.update_user(store, username, user.username, utcnow(),
                                 role=role or None, password=password or None)
    except FormProblem as exc:
        return _users_page(request, store, str(exc))
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/delete", include_in_schema=False)
def delete_user(request: Request, store: StoreDep, user: AdminUser, _csrf: CsrfChecked,
                username: Annotated[str, Form()] = "") -> Any:
    try:
        if username == user.username:
            raise FormProblem("You cannot delete your own account while logged in with it.")
        with form_errors():
            accounts.delete_user(store, username, user.username, utcnow())
    except FormProblem as exc:
        return _users_page(request, store, str(exc))
    return RedirectResponse("/admin/users", status_code=303)


__all__ = ["FormProblem", "form_errors", "router"]
