"""dag.test(): one DAG run through the real scheduler, in memory, in this process."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from millstream import observability
from millstream.executors.inprocess import InProcessExecutor
from millstream.model.states import DagRunState, TaskState
from millstream.parsing.serialize import DagStructure
from millstream.runtime.xcom import StoreXComReader, decode_xcom
from millstream.scheduler.callbacks import InlineCallbackRunner
from millstream.scheduler.loop import Scheduler
from millstream.services.inputs import parse_date
from millstream.store.current import using_store
from millstream.store.memory import MemoryStore
from millstream.store.records import DagRunRecord
from millstream.triggerer.clock import Clock, SkippingClock, using_clock
from millstream.triggerer.inline import InlineTriggerRunner

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG
    from millstream.store.interfaces import Store


class _Clock:
    """Real time, or, with fast retries, real time plus the waits that were skipped.

    The waits skipped are every wait of the run: retry delays, sensors' poke intervals
    and reschedules, and time triggers of deferred tasks.
    """

    def __init__(self, fast: bool) -> None:
        self.fast = fast
        self.skipped = 0.0

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self.skipped, UTC)

    def wait_until(self, moment: datetime) -> None:
        delay = (moment - self.now()).total_seconds()
        if delay <= 0:
            return
        if self.fast:
            self.skipped += delay
        else:
            time.sleep(delay)


@dataclass
class TaskResult:
    """How one task instance ended in a test run."""

    label: str
    state: str
    tries: int
    duration: float | None
    error: str | None


@dataclass
class DagTestResult:
    """The outcome of ``dag.test()``: run state, each task's state, and its XComs."""

    dag_id: str
    run_id: str
    state: str
    task_states: dict[str, str]
    tasks: list[TaskResult]
    _store: MemoryStore = field(repr=False)
    run: DagRunRecord = field(repr=False)

    def xcom_pull(self, task_id: str, key: str = "return_value", map_index: int | None = None
                  ) -> Any:
        """A value a task pushed; a mapped task gives the list of its instances' values."""
        xcoms = self._store.xcoms
        with self._store.transaction():
            if map_index is None:
                text = xcoms.get_xcom(self.dag_id, self.run_id, task_id, -1, key)
                if text is not None:
                    return decode_xcom(text)
                mapped = xcoms.get_mapped_xcoms(self.dag_id, self.run_id, task_id, key)
                return [decode_xcom(t) for t in mapped] if mapped else None
            return decode_xcom(xcoms.get_xcom(self.dag_id, self.run_id, task_id, map_index, key))

    @property
    def succeeded(self) -> bool:
        return self.state == DagRunState.SUCCESS.value


def parse_logical_date(value: datetime | str | None) -> datetime:
    """A logical date from a datetime or an ISO string (date or date-time); naive means UTC,
    none means now (to the second). The services' one date parser reads it."""
    moment = parse_date(value, "logical date")
    return moment if moment is not None else datetime.now(UTC).replace(microsecond=0)


def serialized(dags: Iterable[DAG]) -> dict[str, DagStructure]:
    """Each DAG's structure, serialized as the parser stores it: what a scheduler schedules."""
    return {dag.dag_id: DagStructure.from_dag(dag) for dag in dags}


def in_process_scheduler(
    store: Store, dags: Iterable[DAG], clock: Callable[[], datetime]
) -> Scheduler:
    """A scheduler as production has one, over ``store``, scheduling the serialized
    structures of ``dags``; only their tries and callbacks run the live DAGs, in this
    process (the in-process executor and the inline callback runner)."""
    live = {dag.dag_id: dag for dag in dags}
    executor = InProcessExecutor(StoreXComReader(store), clock, live)
    callbacks = observability.observed_callbacks(InlineCallbackRunner(live))
    return Scheduler(store, executor, serialized(live.values()), callbacks)


def run_dag_test(
    dag: DAG,
    logical_date: datetime | str | None = None,
    conf: dict[str, Any] | None = None,
    fast_retries: bool = False,
    store: MemoryStore | None = None,
) -> DagTestResult:
    """Run one DAG run to completion with the scheduler over an in-memory store.

    ``store`` may hold what the run should find already there (e.g. another DAG's runs
    for an ExternalTaskSensor, left by an earlier ``run_dag_test`` with the same store).
    """
    dag.validate()
    clock = _Clock(fast_retries)
    store = MemoryStore(open_pools=True) if store is None else store
    scheduler = in_process_scheduler(store, [dag], clock.now)
    structure = scheduler.dags[dag.dag_id]
    triggers = InlineTriggerRunner(store, clock.now)
    moment = parse_logical_date(logical_date)
    interval = structure.timetable.data_interval_for(moment)
    run = scheduler.trigger(dag.dag_id, moment, interval, clock.now(), conf=conf)
    sensor_clock = SkippingClock(clock.now, clock.wait_until) if fast_retries else Clock()
    with using_store(store), using_clock(sensor_clock):
        while run.state not in (DagRunState.SUCCESS, DagRunState.FAILED):
            result = scheduler.tick(clock.now())
            run = _current(store, run)
            if result.worked:
                continue
            if triggers.run_until_event(until=result.next_wakeup):
                scheduler.poke(reevaluate=False)  # deferred tasks resume: dispatch them
                continue
            if result.next_wakeup is None:
                run = _fail_stuck_run(scheduler, run, clock.now())
                break
            clock.wait_until(result.next_wakeup)
    return _result(dag, store, run)


def _current(store: Store, run: DagRunRecord) -> DagRunRecord:
    """The run as the store holds it now."""
    with store.transaction():
        return store.runs.get(run.dag_id, run.run_id) or run


def _fail_stuck_run(scheduler: Scheduler, run: DagRunRecord, now: datetime) -> DagRunRecord:
    """Nothing can move any more (e.g. a pool of size 0): end the run failed, saying why."""
    store = scheduler.store
    with store.transaction():
        for ti in store.task_instances.for_run(run.dag_id, run.run_id):
            if ti.state in (TaskState.NONE, TaskState.SCHEDULED):
                store.task_instances.set_state(ti, TaskState.UPSTREAM_FAILED, end_date=now,
                                               error="the run could not make progress")
        run = store.runs.set_state(run, DagRunState.FAILED, end_date=now)
    scheduler.callbacks.dag_run_finished(scheduler.dags[run.dag_id], run, False, "deadlock")
    return run


def _result(dag: DAG, store: MemoryStore, run: DagRunRecord) -> DagTestResult:
    order = {task.task_id: i for i, task in enumerate(dag.topological_sort())}
    with store.transaction():
        instances = sorted(
            store.task_instances.for_run(run.dag_id, run.run_id),
            key=lambda ti: (order[ti.task_id], ti.map_index),
        )
    tasks = [
        TaskResult(ti.label, ti.state.value, ti.try_number, ti.duration, ti.error)
        for ti in instances
    ]
    return DagTestResult(
        dag_id=dag.dag_id,
        run_id=run.run_id,
        state=run.state.value,
        task_states={t.label: t.state for t in tasks},
        tasks=tasks,
        _store=store,
        run=run,
    )
