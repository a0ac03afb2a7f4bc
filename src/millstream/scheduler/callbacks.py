"""Running DAG-level success and failure callbacks without letting them break the scheduler."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from millstream.authoring import macros

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG
    from millstream.store.records import DagRunRecord

log = logging.getLogger("millstream.scheduler")


class CallbackRunner(Protocol):
    """Where the scheduler sends DAG callbacks to be run."""

    def dag_run_finished(self, dag: DAG, run: DagRunRecord, success: bool, reason: str) -> None:
        ...


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


class InlineCallbackRunner:
    """Runs callbacks at once in this thread; a failing callback is logged and forgotten."""

    def dag_run_finished(self, dag: DAG, run: DagRunRecord, success: bool, reason: str) -> None:
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
