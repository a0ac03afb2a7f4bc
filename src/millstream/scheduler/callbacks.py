"""Running DAG-level success and failure callbacks without letting them break the scheduler."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from millstream.authoring import macros

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from millstream.authoring.dag import DAG
    from millstream.scheduler.dag_view import DagView
    from millstream.scheduler.sla import SlaMiss
    from millstream.store.records import DagRunRecord

log = logging.getLogger("millstream.scheduler")


class CallbackRunner(Protocol):
    """Where the scheduler sends DAG callbacks to be run.

    The scheduler knows a DAG only by its view (which callbacks it has, and its file);
    the runner finds the DAG's code to run them.
    """

    def dag_run_finished(
        self, dag: DagView, run: DagRunRecord, success: bool, reason: str
    ) -> None:
        ...

    def sla_missed(self, dag: DagView, misses: list[SlaMiss]) -> None:
        ...

    def reap(self) -> None:
        """Clean up callbacks that ended or ran too long (called now and then)."""
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


def run_dag_run_callbacks(dag: DAG, run: DagRunRecord, success: bool, reason: str) -> None:
    """Call the live DAG's success or failure callbacks; a failing one is logged."""
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


class InlineCallbackRunner:
    """Runs callbacks at once in this thread, with the live DAGs it was given (by dag_id):
    ``dag.test()``'s runner. A failing callback is logged and forgotten."""

    def __init__(self, dags: Mapping[str, DAG]) -> None:
        self.dags = dict(dags)

    def sla_missed(self, dag: DagView, misses: list[SlaMiss]) -> None:
        live = self._live(dag, dag.has_sla_miss_callback)
        if live is not None:
            call_sla_callback(live, misses)

    def reap(self) -> None:
        return None  # nothing runs in the background

    def dag_run_finished(
        self, dag: DagView, run: DagRunRecord, success: bool, reason: str
    ) -> None:
        live = self._live(dag, dag.has_success_callback if success
                          else dag.has_failure_callback)
        if live is not None:
            run_dag_run_callbacks(live, run, success, reason)

    def _live(self, dag: DagView, wanted: bool) -> DAG | None:
        if not wanted:
            return None
        live = self.dags.get(dag.dag_id)
        if live is None:
            log.error("DAG %s has a callback, but no DAG object to run it here", dag.dag_id)
        return live


def call_sla_callback(dag: DAG, misses: list[SlaMiss]) -> None:
    """Airflow's signature: (dag, task_list, blocking_task_list, slas, blocking_tis)."""
    if not dag.sla_miss_callback:
        return
    task_list = "\n".join(f"{m.task_id} on {m.run_id} (due {m.deadline.isoformat()})"
                          for m in misses)
    try:
        dag.sla_miss_callback(dag, task_list, "", misses, [])
    except Exception:
        log.exception("DAG %s: sla_miss_callback failed", dag.dag_id)


def _run_in_worker(fileloc: str, dag_id: str, run: DagRunRecord, success: bool,
                   reason: str) -> None:
    from millstream.parsing.loader import load_dag_file

    logging.basicConfig(level=logging.INFO)
    dag = load_dag_file(fileloc).get(dag_id)
    if dag is None:
        log.error("DAG %s is no longer in %s: its callback cannot run", dag_id, fileloc)
        return
    run_dag_run_callbacks(dag, run, success, reason)


def _sla_in_worker(fileloc: str, dag_id: str, misses: list[SlaMiss]) -> None:
    from millstream.parsing.loader import load_dag_file

    dag = load_dag_file(fileloc).get(dag_id)
    if dag is not None:
        call_sla_callback(dag, misses)


CALLBACK_TIMEOUT_S = 300.0
"""How long one DAG callback may run before its process is killed."""


class ProcessCallbackRunner:
    """Runs each DAG callback in a process of its own that imports the DAG file.

    The scheduler works from serialized structures and never runs user code itself: a
    callback that crashes costs its process; one that hangs is killed after
    ``timeout_s``, and a callback never waits for another.
    """

    def __init__(self, timeout_s: float = CALLBACK_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._running: list[tuple[BaseProcess, float]] = []  # (process, deadline)

    def dag_run_finished(
        self, dag: DagView, run: DagRunRecord, success: bool, reason: str
    ) -> None:
        wanted = dag.has_success_callback if success else dag.has_failure_callback
        if wanted and dag.fileloc:
            self._start(_run_in_worker, dag.fileloc, dag.dag_id, run, success, reason)

    def sla_missed(self, dag: DagView, misses: list[SlaMiss]) -> None:
        if dag.has_sla_miss_callback and dag.fileloc:
            self._start(_sla_in_worker, dag.fileloc, dag.dag_id, misses)

    def _start(self, function: Callable[..., None], *args: Any) -> None:
        import multiprocessing
        import time

        self.reap()
        # spawn, not fork: the scheduler has threads and database connections
        process = multiprocessing.get_context("spawn").Process(
            target=function, args=args, daemon=True, name="millstream-callback"
        )
        process.start()
        self._running.append((process, time.monotonic() + self.timeout_s))

    @property
    def running(self) -> int:
        """How many callback processes have not been reaped yet."""
        return len(self._running)

    def reap(self) -> None:
        """Forget finished callbacks; kill those past their deadline."""
        import time

        still: list[tuple[BaseProcess, float]] = []
        for process, deadline in self._running:
            if not process.is_alive():
                process.join()
                if process.exitcode:
                    log.error("a DAG callback process exited with code %s", process.exitcode)
            elif time.monotonic() > deadline:
                log.error("a DAG callback ran past %g s and was killed", self.timeout_s)
                process.kill()
                process.join()
            else:
                still.append((process, deadline))
        self._running = still

    def close(self, wait_s: float = 10.0) -> None:
        """Give running callbacks ``wait_s`` seconds to finish, then kill them."""
        import time

        deadline = time.monotonic() + wait_s
        for process, _ in self._running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        self._running = []
