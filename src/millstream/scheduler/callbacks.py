"""Where the scheduler sends DAG-level callbacks, and the runner that calls them in this thread.

Production runs each callback in a process forked by the local executor
(:class:`millstream.executors.callback_processes.ForkedCallbackRunner`); ``dag.test()``
calls them here, at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from millstream.runtime.dag_callbacks import (
    call_dag_run_callbacks,
    call_sla_miss_callback,
)

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG
    from millstream.runtime.dag_callbacks import SlaMiss
    from millstream.store.records import DagRunRecord

class CallbackRunner(Protocol):
    """Where the scheduler sends DAG callbacks to be run."""

    def dag_run_finished(self, dag: DAG, run: DagRunRecord, success: bool, reason: str) -> None:
        ...

    def sla_missed(self, dag: DAG, misses: list[SlaMiss]) -> None:
        ...

    def reap(self) -> None:
        """Clean up callbacks that ended or ran too long (called now and then)."""
        ...


class InlineCallbackRunner:
    """Runs callbacks at once in this thread; a failing callback is logged and forgotten."""

    def sla_missed(self, dag: DAG, misses: list[SlaMiss]) -> None:
        call_sla_miss_callback(dag, misses)

    def reap(self) -> None:
        return None  # nothing runs in the background

    def dag_run_finished(self, dag: DAG, run: DagRunRecord, success: bool, reason: str) -> None:
        call_dag_run_callbacks(dag, run, success, reason)
