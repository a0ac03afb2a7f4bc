"""Where the scheduler sends DAG-level callbacks, and the runner that calls them in this thread.

The scheduler knows a DAG only by its view (which callbacks it has, and its file); the
runner finds the DAG's code to run them. Production runs each callback in a process
forked from its DAG file's zygote by the local executor
(:class:`millstream.executors.callback_processes.ForkedCallbackRunner`); ``dag.test()``
calls them here, at once, on the live DAGs it was given.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from millstream.runtime.dag_callbacks import (
    call_dag_run_callbacks,
    call_sla_miss_callback,
)

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG
    from millstream.runtime.dag_callbacks import SlaMiss
    from millstream.scheduler.dag_view import DagView
    from millstream.store.records import DagRunRecord

log = logging.getLogger("millstream.scheduler")


class CallbackRunner(Protocol):
    """Where the scheduler sends DAG callbacks to be run."""

    def dag_run_finished(
        self, dag: DagView, run: DagRunRecord, success: bool, reason: str
    ) -> None:
        ...

    def sla_missed(self, dag: DagView, misses: list[SlaMiss]) -> None:
        ...

    def reap(self) -> None:
        """Clean up callbacks that ended or ran too long (called now and then)."""
        ...


class InlineCallbackRunner:
    """Runs callbacks at once in this thread, with the live DAGs it was given (by dag_id):
    ``dag.test()``'s runner. A failing callback is logged and forgotten."""

    def __init__(self, dags: Mapping[str, DAG]) -> None:
        self.dags = dict(dags)

    def sla_missed(self, dag: DagView, misses: list[SlaMiss]) -> None:
        live = self._live(dag, dag.has_sla_miss_callback)
        if live is not None:
            call_sla_miss_callback(live, misses)

    def reap(self) -> None:
        return None  # nothing runs in the background

    def dag_run_finished(
        self, dag: DagView, run: DagRunRecord, success: bool, reason: str
    ) -> None:
        live = self._live(dag, dag.has_success_callback if success
                          else dag.has_failure_callback)
        if live is not None:
            call_dag_run_callbacks(live, run, success, reason)

    def _live(self, dag: DagView, wanted: bool) -> DAG | None:
        if not wanted:
            return None
        live = self.dags.get(dag.dag_id)
        if live is None:
            log.error("DAG %s has a callback, but no DAG object to run it here", dag.dag_id)
        return live
