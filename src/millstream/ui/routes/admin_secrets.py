"""Admin pages for variables and connections (op and admin): list, add, edit, delete.

Secrets never travel back to the browser: a variable whose key names a secret is listed
as ``***`` and its edit form starts empty; a connection's password is never shown (leave
the field empty to keep it), nor an extra holding secret fields.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from millstream.api.deps import StoreDep
from millstream.secrets import service
from millstream.secrets.connection import Connection
from millstream.secrets.masking import is_sensitive_name, redact
from millstream.ui.dagpage import utcnow
from millstream.ui.routes.admin import FormProblem, form_errors
from millstream.ui.session import CsrfChecked, OpUser
from millstream.ui.templating import render

router = APIRouter(prefix="/admin")

LIST_LIMIT = 1000
CONNECTION_FIELDS = ("conn_id", "conn_type", "description", "host", "port", "schema", "login",
                     "extra")


# -- variables -----------------------------------------------------------------------------------
def _variables_page(request: Request, store: Any, error: str | None = None,
                    form: dict[str, str] | None = None) -> Any:
    try:
        with form_errors():
            variables, total = service.list_variables(store, LIST_LIMIT, 0)
    except FormProblem as exc:  # no Fernet key, or the wrong one: say so, list nothing
        variables, total, error = [], 0, str(exc)
    return render(request, "admin/variables.html", {
        "nav": "variables", "variables": variables, "total": total, "error": error,
        "form": form or {"key": "", "value": "", "description": "", "secret": ""},
    }, status_code=400 if error else 200)


@router.get("/variables", include_in_schema=False)
def variables_page(request: Request, store: StoreDep, _: OpUser, edit: str | None = None) -> Any:
    form = None
    if edit:
        try:
            with form_errors():
                value = service.get_variable(store, edit)
        except FormProblem as exc:
            return _variables_page(request, store, str(exc))
        if value is not None:
            secret = is_sensitive_name(edit)
            record = store.variables.get(edit)
            form = {"key": edit, "value": "" if secret else value,
                    "description": (record.description or "") if record else "",
                    "secret": "yes" if secret else ""}
    return _variables_page(request, store, form=form)


@router.post("/variables", include_in_schema=False)
def save_variable(
    request: Request, store: StoreDep, user: OpUser, _csrf: CsrfChecked,
    key: Annotated[str, Form()] = "", value: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Any:
    form = {"key": key, "value": value, "description": description, "secret": ""}
    try:
        with form_errors():
            service.set_variable(store, key.strip(), value, user.username, utcnow(),
                                 description.strip() or None)
    except FormProblem as exc:
        return _variables_page(request, store, str(exc), form)
    return RedirectResponse("/admin/variables", status_code=303)


@router.post("/variables/delete", include_in_schema=False)
def delete_variable(request: Request, store: StoreDep, user: OpUser, _csrf: CsrfChecked,
                    key: Annotated[str, Form()] = "") -> Any:
    if not service.delete_variable(store, key, user.username, utcnow()):
        return _variables_page(request, store, f"There is no variable {key!r}.")
    return RedirectResponse("/admin/variables", status_code=303)


# -- connections ---------------------------------------------------------------------------------
def _connections_page(request: Request, store: Any, error: str | None = None,
                      form: dict[str, str] | None = None) -> Any:
    try:
        with form_errors():
            connections, total = service.list_connections(store, LIST_LIMIT, 0)
    except FormProblem as exc:
        connections, total, error = [], 0, str(exc)
    return render(request, "admin/connections.html", {
        "nav": "connections", "connections": connections, "total": total, "error": error,
        "form": form or dict.fromkeys(CONNECTION_FIELDS, ""), "editing": bool(form and
                                                                             form.get("editing")),
    }, status_code=400 if error else 200)


@router.get("/connections", include_in_schema=False)
def connections_page(request: Request, store: StoreDep, _: OpUser,
                     edit: str | None = None) -> Any:
    form = None
    if edit:
        try:
            with form_errors():
                conn = service.get_connection_record(store, edit)
        except FormProblem as exc:
            return _connections_page(request, store, str(exc))
        if conn is not None:
            form = {name: "" if getattr(conn, name) is None else str(getattr(conn, name))
                    for name in CONNECTION_FIELDS}
            form["editing"] = "yes"
            form["password_set"] = "yes" if conn.password is not None else ""
            if conn.extra and _extra_has_secrets(conn.extra):
                form["extra"] = ""
                form["extra_hidden"] = "yes"
    return _connections_page(request, store, form=form)


def _extra_has_secrets(extra: str) -> bool:
    try:
        data = json.loads(extra)
    except ValueError:
        return True
    return bool(redact(data) != data)


@router.post("/connections", include_in_schema=False)
def save_connection(
    request: Request, store: StoreDep, user: OpUser, _csrf: CsrfChecked,
    conn_id: Annotated[str, Form()] = "", conn_type: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "", host: Annotated[str, Form()] = "",
    port: Annotated[str, Form()] = "", schema_name: Annotated[str, Form(alias="schema")] = "",
    login: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
    extra: Annotated[str, Form()] = "", editing: Annotated[str, Form()] = "",
) -> Any:
    """Create a connection, or change one (an empty password or extra keeps the stored one)."""
    form = {"conn_id": conn_id, "conn_type": conn_type, "description": description,
            "host": host, "port": port, "schema": schema_name, "login": login, "extra": extra,
            "editing": editing}
    try:
        conn_id = conn_id.strip()
        try:
            number = int(port) if port.strip() else None
        except ValueError:
            raise FormProblem(f"Port must be a whole number, not {port!r}.") from None
        with form_errors():
            current = service.get_connection_record(store, conn_id) if editing else None
            conn = Connection(
                conn_id, conn_type.strip() or None, description.strip() or None,
                host.strip() or None, login.strip() or None,
                password if password else (current.password if current else None),
                schema_name.strip() or None, number,
                extra.strip() or (current.extra if current else None),
            )
            service.set_connection(store, conn, user.username, utcnow(),
                                   must_not_exist=not editing)
    except FormProblem as exc:
        return _connections_page(request, store, str(exc), form)
    return RedirectResponse("/admin/connections", status_code=303)


@router.post("/connections/delete", include_in_schema=False)
def delete_connection(request: Request, store: StoreDep, user: OpUser, _csrf: CsrfChecked,
                      conn_id: Annotated[str, Form()] = "") -> Any:
    if not service.delete_connection(store, conn_id, user.username, utcnow()):
        return _connections_page(request, store, f"There is no connection {conn_id!r}.")
    return RedirectResponse("/admin/connections", status_code=303)


__all__ = ["router"]
