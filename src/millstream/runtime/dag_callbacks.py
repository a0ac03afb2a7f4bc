"""Calling a DAG's own callbacks (success, failure, SLA miss) with the context they receive.

The scheduler's in-process runner (``dag.test()``) and the callback processes the local
executor forks both call these, so a callback sees the same arguments wherever it runs.
A failing callback is logged, never raised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from millstream import observability
from millstream.authoring import macros
from millstream.notify.base import quietly_failed

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG
    from millstream.store.records import DagRunRecord

log = logging.getLogger("millstream.scheduler")


class CallbackDag(Protocol):
    """What a callback runner reads of a DAG: which callbacks it has, and the file that
    defines them. The scheduler's DagView extends it."""

    @property
    def dag_id(self) -> str: ...

    @property
    def fileloc(self) -> str | None:
        """The file a try's or a callback's process imports the DAG from."""
        ...

    @property
    def has_success_callback(self) -> bool: ...

    @property
    def has_failure_callback(self) -> bool: ...

    @property
    def has_sla_miss_callback(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class SlaMiss:
    """One task of one run that is late (``kind`` "sla"), or one run that missed its DAG's
    deadline alert number ``alert`` (``kind`` "deadline", ``task_id`` "")."""

    dag_id: str
    run_id: str
    task_id: str
    deadline: datetime
    kind: str = "sla"
    alert: int = 0


def dag_callback_context(dag: DAG, run: DagRunRecord, reason: str) -> dict[str, Any]:
    """The context a DAG callback receives."""
    ds = run.logical_date.strftime("%Y-%m-%d")
    return {
        "dag": dag,
        "dag_run": run,
        "run_id": run.run_id,
        "reason": reason,
        "logical_date": run.logical_date,
        "execution_date": run.logical_date,
        "ds": ds,
        "ds_nodash": ds.replace("-", ""),
        "data_interval_start": run.data_interval_start,
        "data_interval_end": run.data_interval_end,
        "params": dag.params.resolve(run.conf) if run.conf is not None else dict(dag.params),
        "macros": macros,
    }


def call_dag_run_callbacks(dag: DAG, run: DagRunRecord, success: bool, reason: str) -> None:
    """Call the DAG's ``on_success_callback`` or ``on_failure_callback`` (each, if a list)."""
    callback = dag.on_success_callback if success else dag.on_failure_callback
    if not callback:
        return
    context = dag_callback_context(dag, run, reason)
    kind = "on_success_callback" if success else "on_failure_callback"
    for function in callback if isinstance(callback, list | tuple) else [callback]:
        try:
            if quietly_failed(function, context):  # a notifier (it logged why)
                observability.callback_failed(dag.dag_id, kind)
        except Exception:
            log.exception("DAG %s: %s callback failed", dag.dag_id,
                          "success" if success else "failure")
            observability.callback_failed(dag.dag_id, kind)


def call_sla_miss_callback(dag: DAG, misses: list[SlaMiss]) -> None:
    """Task SLA misses go to ``sla_miss_callback`` (Airflow's signature: dag, task_list,
    blocking_task_list, slas, blocking_tis; a notifier gets one context per miss); missed
    deadline alerts go to their alert's callbacks, one context each."""
    from millstream.notify.base import BaseNotifier

    for miss in misses:
        if miss.kind == "deadline" and miss.alert < len(dag.deadline):
            for callback in dag.deadline[miss.alert].callbacks():
                _call_with_miss(dag, callback, miss, "deadline callback")
    misses = [m for m in misses if m.kind != "deadline"]
    if not dag.sla_miss_callback or not misses:
        return
    if isinstance(dag.sla_miss_callback, BaseNotifier):
        for miss in misses:
            _call_with_miss(dag, dag.sla_miss_callback, miss, "sla_miss_callback")
        return
    task_list = "\n".join(f"{m.task_id} on {m.run_id} (due {m.deadline.isoformat()})"
                          for m in misses)
    try:
        if quietly_failed(dag.sla_miss_callback, dag, task_list, "", misses, []):
            observability.callback_failed(dag.dag_id, "sla_miss_callback")
    except Exception:
        log.exception("DAG %s: sla_miss_callback failed", dag.dag_id)
        observability.callback_failed(dag.dag_id, "sla_miss_callback")


def miss_context(dag: DAG, miss: SlaMiss) -> dict[str, Any]:
    """The context a notifier gets for a missed SLA or deadline."""
    if miss.kind == "deadline":
        reason = (f"run {miss.run_id} of DAG {miss.dag_id} missed its deadline "
                  f"{miss.deadline.isoformat()}")
    else:
        reason = (f"task {miss.task_id} of run {miss.run_id} missed its SLA "
                  f"{miss.deadline.isoformat()}")
    return {"dag": dag, "dag_id": miss.dag_id, "run_id": miss.run_id, "reason": reason,
            "deadline": miss.deadline, "deadline_miss": miss,
            "task_id": miss.task_id or None}


def _call_with_miss(dag: DAG, callback: Any, miss: SlaMiss, name: str) -> None:
    try:
        if quietly_failed(callback, miss_context(dag, miss)):
            observability.callback_failed(dag.dag_id, name.replace(" ", "_"))
    except Exception:
        log.exception("DAG %s: %s failed", dag.dag_id, name)
        observability.callback_failed(dag.dag_id, name.replace(" ", "_"))
