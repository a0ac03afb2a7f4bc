"""DAG callbacks run the way tries run: in a process forked from their DAG file's zygote.

The scheduler works from serialized DAG structures and never runs user code itself.
:class:`ForkedCallbackRunner` sends each success, failure or SLA-miss callback to the
local executor's fork server as JSON; the zygote that imported the DAG file forks a
process for it, in a session of its own, killed with its process group if it runs past
``timeout_s``. A callback that crashes costs its process only, and a callback never
waits for another.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from millstream.executors.wire import CALLBACK_TIMEOUT_S, CallbackRequest

if TYPE_CHECKING:
    from millstream.executors.local import LocalExecutor
    from millstream.runtime.dag_callbacks import CallbackDag, SlaMiss
    from millstream.store.records import DagRunRecord


class ForkedCallbackRunner:
    """The scheduler's :class:`~millstream.scheduler.callbacks.CallbackRunner` in production."""

    def __init__(self, executor: LocalExecutor, timeout_s: float = CALLBACK_TIMEOUT_S) -> None:
        self.executor = executor
        self.timeout_s = timeout_s

    def dag_run_finished(
        self, dag: CallbackDag, run: DagRunRecord, success: bool, reason: str
    ) -> None:
        """Run the DAG's success or failure callback, if it has one, for ``run``."""
        wanted = dag.has_success_callback if success else dag.has_failure_callback
        if wanted and dag.fileloc:
            self.executor.run_callback(CallbackRequest(
                0, str(dag.fileloc), dag.dag_id, "success" if success else "failure",
                run=run, reason=reason, timeout_s=self.timeout_s))

    def sla_missed(self, dag: CallbackDag, misses: list[SlaMiss]) -> None:
        """Run the DAG's sla_miss_callback, if it has one, for ``misses``."""
        if dag.has_sla_miss_callback and dag.fileloc:
            self.executor.run_callback(CallbackRequest(
                0, str(dag.fileloc), dag.dag_id, "sla_miss", misses=list(misses),
                timeout_s=self.timeout_s))

    def reap(self) -> None:
        """Take in the ends of callbacks (the fork server enforces their timeouts)."""
        self.executor.sync()

    @property
    def running(self) -> int:
        """How many callbacks have been sent and not reported ended."""
        return self.executor.callbacks_running()

    def close(self, wait_s: float = 10.0) -> None:
        """Give running callbacks ``wait_s`` seconds to finish, then kill them."""
        deadline = time.monotonic() + wait_s
        while self.running and time.monotonic() < deadline:
            self.executor.wait_for_events(min(0.1, max(0.0, deadline - time.monotonic())))
        if self.running:
            self.executor.kill_callbacks()
