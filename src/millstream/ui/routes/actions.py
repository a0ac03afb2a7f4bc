"""What a user changes from the UI: trigger a run, clear tasks, mark tasks or runs.

Clearing and marking always go through a confirmation page first: the GET shows what
would change (read-only), its form POSTs the change with the page's CSRF token. Every
change is a service (:mod:`millstream.services`), audited under the logged-in user's name;
its domain errors become error pages in one place (:mod:`millstream.ui.app`).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from millstream.api.deps import StoreDep
from millstream.exceptions import DomainError
from millstream.model.states import FINISHED_TASK_STATES
from millstream.parsing.serialize import DagStructure
from millstream.services.clear import clear as clear_tasks
from millstream.services.clear import clearable, select_tasks
from millstream.services.mark import mark_run, mark_task
from millstream.services.trigger import trigger_run
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceKey
from millstream.ui.dagpage import (
    bool_param,
    int_param,
    load_header,
    load_structure,
    require_run,
    utcnow,
)
from millstream.ui.errors import PageError
from millstream.ui.param_form import conf_from_form, param_fields
from millstream.ui.session import CsrfChecked, OpUser
from millstream.ui.templating import query, render

router = APIRouter()

# -- trigger -------------------------------------------------------------------------------------
def default_conf(structure: DagStructure) -> dict[str, Any]:
    """The params' defaults, as the conf a trigger form starts from."""
    conf: dict[str, Any] = {}
    for name, spec in structure.data.get("params", {}).items():
        if spec.get("param"):
            if spec.get("has_default"):
                conf[name] = spec.get("default")
        else:
            conf[name] = spec.get("value")
    return conf


@router.get("/dags/{dag_id}/trigger", include_in_schema=False)
def trigger_form(request: Request, dag_id: str, store: StoreDep, _: OpUser,
                 view: str | None = None) -> Any:
    """The trigger form: a widget per param (``view=json``: the conf as JSON text)."""
    header = load_header(store, dag_id)
    conf = json.dumps(default_conf(header.structure), indent=2, sort_keys=True)
    return _trigger_page(request, header, conf, "", "", None, _view(header, view))


async def _form_fields(request: Request) -> dict[str, str]:
    """The posted form's text fields (the params' widgets have names of their own)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


FormFields = Annotated[dict[str, str], Depends(_form_fields)]


@router.post("/dags/{dag_id}/trigger", include_in_schema=False)
def trigger(
    request: Request,
    dag_id: str,
    store: StoreDep,
    user: OpUser,
    _csrf: CsrfChecked,
    fields: FormFields,
    conf: Annotated[str, Form()] = "",
    logical_date: Annotated[str, Form()] = "",
    run_id: Annotated[str, Form()] = "",
    view: Annotated[str, Form()] = "json",
) -> Any:
    """Queue a manual run; bad input shows the form again, saying what is wrong. From the
    form view the conf is made of the params' fields; from the JSON view it is ``conf``."""
    header = load_header(store, dag_id)
    params = header.structure.data.get("params", {})
    try:
        run_conf: str | dict[str, Any] = conf
        if view == "form":
            run_conf = conf_from_form(params, fields)
        run = trigger_run(store, dag_id, who=user.username, now=utcnow(), conf=run_conf,
                          logical_date=logical_date, run_id=run_id, conf_field="Conf",
                          date_field="Logical date")
    except DomainError as exc:  # the form again, saying what is wrong
        return _trigger_page(request, header, conf, logical_date, run_id, str(exc),
                             "form" if view == "form" else "json",
                             fields if view == "form" else None)
    return RedirectResponse(f"/dags/{dag_id}/run{query(run_id=run.run_id)}", status_code=303)


def _view(header: Any, asked: str | None) -> str:
    """The form view when the DAG has params (unless JSON is asked for), else JSON."""
    if asked in ("form", "json"):
        return asked
    return "form" if header.structure.data.get("params") else "json"


def _trigger_page(request: Request, header: Any, conf: str, logical_date: str, run_id: str,
                  error: str | None, view: str = "json",
                  submitted: dict[str, str] | None = None) -> Any:
    params_spec = header.structure.data.get("params", {})
    params = []
    for name, spec in params_spec.items():
        has_default = not spec.get("param") or spec.get("has_default")
        default = spec.get("default") if spec.get("param") else spec.get("value")
        params.append({"name": name, "description": spec.get("description"),
                       "type": spec.get("type"), "required": not has_default,
                       "default": json.dumps(default) if has_default else None})
    return render(request, "trigger.html", {
        "nav": "dags", "tab": "", "header": header, "conf": conf, "logical_date": logical_date,
        "run_id": run_id, "error": error, "params": params, "view": view,
        "fields": param_fields(params_spec, submitted=submitted),
    }, status_code=400 if error else 200)


# -- clear ---------------------------------------------------------------------------------------
def clear_plan(store: Store, dag_id: str, run: DagRunRecord, task_id: str | None,
               downstream: bool, upstream: bool,
               only_failed: bool) -> tuple[DagStructure, set[str], list[Any]]:
    """The structure, the tasks chosen, and the instances a clear would reset."""
    structure = load_structure(store, dag_id, run.dag_version)
    if task_id is None:
        chosen = set(structure.task_dict)
    elif task_id not in structure.task_dict:
        raise PageError(404, f"DAG {dag_id!r} has no task {task_id!r}")
    else:
        chosen = {task_id}
        chosen |= select_tasks(structure, f"^{re.escape(task_id)}$", downstream, upstream)
    found = clearable(store, dag_id, [run.run_id], chosen, only_failed)
    return structure, chosen, found


@router.get("/dags/{dag_id}/clear", include_in_schema=False)
def clear_confirm(
    request: Request, dag_id: str, store: StoreDep, _: OpUser, run_id: str | None = None,
    task_id: str | None = None, downstream: str | None = None, upstream: str | None = None,
    only_failed: str | None = None,
) -> Any:
    """What a clear would reset, with a form to confirm it."""
    down = bool_param(downstream) if downstream is not None else task_id is not None
    with store.transaction():
        header = load_header(store, dag_id)
        run = require_run(store, dag_id, run_id)
        found = clear_plan(store, dag_id, run, task_id, down, bool_param(upstream),
                           bool_param(only_failed))[2]
        unfinished = [ti for ti in store.task_instances.for_run(dag_id, run.run_id)
                      if ti.state not in FINISHED_TASK_STATES]
    return render(request, "confirm_clear.html", {
        "nav": "dags", "tab": "", "header": header, "run": run, "task_id": task_id,
        "downstream": down, "upstream": bool_param(upstream),
        "only_failed": bool_param(only_failed), "found": found, "unfinished": len(unfinished),
    })


@router.post("/dags/{dag_id}/clear", include_in_schema=False)
def clear(
    dag_id: str, run_id: Annotated[str, Form()], store: StoreDep, user: OpUser,
    _csrf: CsrfChecked, task_id: Annotated[str, Form()] = "",
    downstream: Annotated[str, Form()] = "", upstream: Annotated[str, Form()] = "",
    only_failed: Annotated[str, Form()] = "",
) -> RedirectResponse:
    run = require_run(store, dag_id, run_id)
    structure, chosen, _ = clear_plan(store, dag_id, run, task_id or None,
                                      bool_param(downstream), bool_param(upstream),
                                      bool_param(only_failed))
    clear_tasks(store, structure, dag_id, [run.run_id], chosen, user.username, utcnow(),
                only_failed=bool_param(only_failed))
    if task_id:
        return RedirectResponse(f"/dags/{dag_id}/task{query(run_id=run_id, task_id=task_id)}",
                                status_code=303)
    return RedirectResponse(f"/dags/{dag_id}/run{query(run_id=run_id)}", status_code=303)


# -- mark ----------------------------------------------------------------------------------------
MARK_STATES = ("success", "failed")


@router.get("/dags/{dag_id}/mark", include_in_schema=False)
def mark_confirm(
    request: Request, dag_id: str, store: StoreDep, _: OpUser, run_id: str | None = None,
    task_id: str | None = None, map_index: str | None = None, state: str = "",
) -> Any:
    """What marking a task instance or a whole run would do, with a form to confirm it."""
    if state not in MARK_STATES:
        raise PageError(400, f"mark as success or failed, not {state!r}")
    index = int_param(map_index, -1, -1)
    with store.transaction():
        header = load_header(store, dag_id)
        run = require_run(store, dag_id, run_id)
        ti = None
        affected = []
        if task_id:
            ti = store.task_instances.get(TaskInstanceKey(dag_id, run.run_id, task_id, index))
            if ti is None:
                raise PageError(404, f"run {run.run_id!r} has no task instance {task_id!r}")
        else:
            affected = [t for t in store.task_instances.for_run(dag_id, run.run_id)
                        if t.state not in FINISHED_TASK_STATES]
    return render(request, "confirm_mark.html", {
        "nav": "dags", "tab": "", "header": header, "run": run, "ti": ti, "state": state,
        "affected": affected,
    })


@router.post("/dags/{dag_id}/mark", include_in_schema=False)
def mark(
    dag_id: str, run_id: Annotated[str, Form()], state: Annotated[str, Form()],
    store: StoreDep, user: OpUser, _csrf: CsrfChecked, task_id: Annotated[str, Form()] = "",
    map_index: Annotated[str, Form()] = "-1",
) -> RedirectResponse:
    if state not in MARK_STATES:
        raise PageError(400, f"mark as success or failed, not {state!r}")
    now = utcnow()
    if task_id:
        index = int_param(map_index, -1, -1)
        key = TaskInstanceKey(dag_id, run_id, task_id, index)
        mark_task(store, key, state, user.username, now)
        target = query(run_id=run_id, task_id=task_id, map_index=index if index >= 0 else None)
        return RedirectResponse(f"/dags/{dag_id}/task{target}", status_code=303)
    mark_run(store, dag_id, run_id, state, user.username, now)
    return RedirectResponse(f"/dags/{dag_id}/run{query(run_id=run_id)}", status_code=303)


__all__ = ["clear_plan", "default_conf", "router"]
