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
    """One task of one run that is late."""

    dag_id: str
    run_id: str
    task_id: str
    deadline: datetime


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
    for function in callback if isinstance(callback, list | tuple) else [callback]:
        try:
            function(context)
        except Exception:
            log.exception("DAG %s: %s callback failed", dag.dag_id,
                          "success" if success else "failure")
            observability.callback_failed(dag.dag_id, "on_success_callback" if success
                                          else "on_failure_callback")


def call_sla_miss_callback(dag: DAG, misses: list[SlaMiss]) -> None:
    """Airflow's signature: (dag, task_list, blocking_task_list, slas, blocking_tis)."""
    if not dag.sla_miss_callback:
        return
    task_list = "\n".join(f"{m.task_id} on {m.run_id} (due {m.deadline.isoformat()})"
                          for m in misses)
    try:
        dag.sla_miss_callback(dag, task_list, "", misses, [])
    except Exception:
        log.exception("DAG %s: sla_miss_callback failed", dag.dag_id)
        observability.callback_failed(dag.dag_id, "sla_miss_callback")
