"""One run's page (its conf, state and task instances) and one task try's page (log, XCom)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request

from millstream.api.deps import SettingsDep, StoreDep
from millstream.api.remote_logs import RemoteLogs
from millstream.model.states import FINISHED_TASK_STATES
from millstream.parsing.serialize import TaskStructure
from millstream.runtime.xcom import shown_xcom
from millstream.secrets.masking import SecretsMasker
from millstream.secrets.service import stored_secrets_masker
from millstream.services.runs import BUSY_TASK_STATES
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceKey, TaskInstanceRecord
from millstream.ui.dagpage import int_param, load_header, load_structure, require_run
from millstream.ui.errors import PageError
from millstream.ui.logs import read_log
from millstream.ui.rendered import rendered_fields
from millstream.ui.session import PageUser
from millstream.ui.states import summary_state
from millstream.ui.templating import between, format_duration, format_moment, render

router = APIRouter()


def run_instances(store: Store, dag_id: str, run: DagRunRecord) -> list[TaskInstanceRecord]:
    """A run's task instances in the DAG's topological order, map indexes in order."""
    instances = store.task_instances.for_run(dag_id, run.run_id)
    structure = load_structure(store, dag_id, run.dag_version)
    order = {t.task_id: i for i, t in enumerate(structure.topological_sort())}
    instances.sort(key=lambda ti: (order.get(ti.task_id, len(order)), ti.task_id, ti.map_index))
    return instances


def run_live_facts(run: DagRunRecord) -> dict[str, str]:
    """The run's facts that change while it is live, as the page shows them."""
    return {
        "queued_at": format_moment(run.queued_at),
        "start_date": format_moment(run.start_date),
        "end_date": format_moment(run.end_date),
        "duration": format_duration(between(run.start_date, run.end_date)),
    }


@router.get("/dags/{dag_id}/run", include_in_schema=False)
def run_page(request: Request, dag_id: str, store: StoreDep, _: PageUser,
             run_id: str | None = None) -> Any:
    """A run's dates, conf and note, and every task instance with its state."""
    with store.transaction():
        header = load_header(store, dag_id)
        run = require_run(store, dag_id, run_id)
        instances = run_instances(store, dag_id, run)
    failed = sum(1 for ti in instances if ti.state.value in ("failed", "upstream_failed"))
    return render(request, "run.html", {
        "nav": "dags", "tab": "", "header": header, "dag_id": dag_id, "run": run,
        "instances": instances, "failed": failed,
        "conf_json": json.dumps(run.conf, indent=2, sort_keys=True, default=str),
        "run_states": summary_state(ti.state for ti in instances),
    })


@dataclass(frozen=True, slots=True)
class TryRow:
    """One try of a task instance, finished or under way."""

    try_number: int
    state: str
    start_date: datetime | None
    end_date: datetime | None
    error: str | None


def tries_of(store: Store, ti: TaskInstanceRecord) -> list[TryRow]:
    """Every try of the instance, oldest first, the current one included."""
    rows = [TryRow(t.try_number, t.state.value, t.start_date, t.end_date, t.error)
            for t in store.task_instances.tries(ti.key)]
    if ti.try_number > 0 and ti.try_number not in {r.try_number for r in rows}:
        rows.append(TryRow(ti.try_number, ti.state.value, ti.start_date, ti.end_date, ti.error))
    return sorted(rows, key=lambda r: r.try_number)


def xcom_rows(entries: list[tuple[str, str]], masker: SecretsMasker) -> list[dict[str, Any]]:
    """XComs with their values pretty-printed (a value that is not JSON is shown as stored);
    secret-named keys and fields, and every secret ``masker`` knows, show as ***."""
    rows = []
    for key, text in entries:
        try:
            value = shown_xcom(json.loads(text))
            shown = json.dumps(masker.redact(value, key), indent=2, sort_keys=True)
        except ValueError:
            shown = masker.redact(text, key)
        rows.append({"key": key, "value": shown})
    return rows


@router.get("/dags/{dag_id}/task", include_in_schema=False)
def task_page(
    request: Request,
    dag_id: str,
    store: StoreDep,
    settings: SettingsDep,
    _: PageUser,
    run_id: str | None = None,
    task_id: str | None = None,
    map_index: str | None = None,
) -> Any:
    """One try of one task instance: its details, its log (followed while it runs), its
    XComs and the values its templated fields were rendered to."""
    if not task_id:
        raise PageError(400, "which task? add &task_id=... to the address")
    index = int_param(map_index, -1, -1)
    with store.transaction():
        header = load_header(store, dag_id)
        run = require_run(store, dag_id, run_id)
        ti = store.task_instances.get(TaskInstanceKey(dag_id, run.run_id, task_id, index))
        mapped: list[TaskInstanceRecord] = []
        if ti is None:
            mapped = [t for t in store.task_instances.for_run(dag_id, run.run_id, [task_id])
                      if t.map_index >= 0]
            if not mapped:
                raise PageError(404, f"run {run.run_id!r} of DAG {dag_id!r} has no task "
                                     f"{task_id!r}" + (f" [{index}]" if index >= 0 else ""))
        tries = tries_of(store, ti) if ti is not None else []
        masker = stored_secrets_masker(store)
        xcoms = xcom_rows(store.xcoms.entries(ti.key), masker) if ti is not None else []
    structure = load_structure(store, dag_id, run.dag_version)
    task: TaskStructure | None = structure.task_dict.get(task_id)
    context: dict[str, Any] = {
        "nav": "dags", "tab": "", "header": header, "run": run, "ti": ti, "task": task,
        "mapped": mapped, "tries": tries, "xcoms": xcoms,
        "mapped_state": summary_state(t.state for t in mapped),
    }
    if ti is not None:
        chosen = int_param(request.query_params.get("try"), ti.try_number, 0, ti.try_number)
        log_folder = settings.logging.base_log_folder
        context.update(
            try_number=chosen,
            # the page waits for the next try while the instance has work ahead of it
            unfinished=ti.state not in FINISHED_TASK_STATES,
            busy=ti.state in BUSY_TASK_STATES,
            log=read_log(log_folder, ti, chosen, remote=RemoteLogs.from_settings(settings))
            if chosen >= 1 else None,
            rendered=rendered_fields(log_folder, ti.key, chosen, masker) if chosen >= 1 else None,
        )
    return render(request, "task.html", context)


__all__ = ["router", "run_instances", "run_live_facts", "tries_of", "xcom_rows"]
