"""A scheduler over a store driven by a fake clock, and an executor that holds work.

Tests call ``tick`` with chosen moments instead of sleeping. :class:`HeldExecutor` accepts
workloads and keeps them until the test starts or finishes them, so dispatch limits can be
observed while work is in flight.

The store is made by :data:`store_factory` (the conftest sets it to each store kind in
turn); the scheduler gets it as production code does, and ``Engine.store`` is the test's
view of it, where each read made outside a transaction gets one of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from millstream.authoring.dag import DAG
from millstream.authoring.task import BaseOperator
from millstream.executors.inprocess import InProcessExecutor
from millstream.model.states import FINISHED_RUN_STATES, TaskState
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
from millstream.runtime.task_runner import run_task_try
from millstream.runtime.xcom import StoreXComReader
from millstream.scheduler.callbacks import CallbackRunner, InlineCallbackRunner
from millstream.scheduler.loop import Scheduler, TickResult
from millstream.store.interfaces import Store
from millstream.store.memory import MemoryStore
from millstream.store.records import DagRunRecord, TaskInstanceKey, TaskInstanceRecord
from millstream.testing import serialized
from tests.autocommit import AutoCommit, autocommit

START = datetime(2026, 1, 1, tzinfo=UTC)

store_factory: Callable[[], Store] = MemoryStore
"""Makes the store of an Engine given none (see conftest.py)."""


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class HeldExecutor:
    """Accepts workloads and holds them until the test starts, finishes or runs them."""

    def __init__(self, clock: FakeClock, dags: dict[str, DAG], slots: int = 1_000) -> None:
        self.clock = clock
        self.dags = dags  # the live DAGs whose operators a try runs
        self.slots = slots
        self.held: dict[TaskInstanceKey, tuple[TaskWorkload, BaseOperator]] = {}
        self.submitted: list[TaskInstanceKey] = []
        self.events: list[TaskStartedEvent | TaskFinishedEvent] = []
        self.terminated: list[TaskInstanceKey] = []
        self.calls: list[str] = []  # "prepare <file>" and "submit <task>", in order

    # -- the Executor protocol ---------------------------------------------------------------
    def open_slots(self) -> int:
        return self.slots - len(self.held)

    def submit(self, workload: TaskWorkload) -> None:
        assert workload.key not in self.held, f"{workload.key} submitted twice"
        task = self.dags[workload.key.dag_id].task_dict[workload.key.task_id]
        self.held[workload.key] = (workload, task)
        self.submitted.append(workload.key)
        self.calls.append(f"submit {workload.key.task_id}")

    def prepare(self, dag_file: str) -> None:
        self.calls.append(f"prepare {dag_file}")

    def sync(self) -> None:
        return None

    def drain_events(self) -> list[TaskStartedEvent | TaskFinishedEvent]:
        events, self.events = self.events, []
        return events

    def has_work(self) -> bool:
        return bool(self.events)

    def wait_for_events(self, timeout: float) -> bool:
        return bool(self.events)

    def in_flight(self) -> set[TaskInstanceKey]:
        return set(self.held)

    def running_pids(self) -> dict[TaskInstanceKey, int]:
        return {}

    def terminate(self, key: TaskInstanceKey) -> None:
        self.terminated.append(key)  # its outcome still comes, when the test finishes it

    # -- test controls -------------------------------------------------------------------------
    def key(self, task_id: str, map_index: int = -1, run_id: str | None = None) -> TaskInstanceKey:
        matches = [
            k for k in self.held
            if k.task_id == task_id and k.map_index == map_index
            and (run_id is None or k.run_id == run_id)
        ]
        assert len(matches) == 1, f"expected one held {task_id}[{map_index}], held: {self.held}"
        return matches[0]

    def start(self, task_id: str, map_index: int = -1, run_id: str | None = None) -> None:
        workload, _ = self.held[self.key(task_id, map_index, run_id)]
        self.events.append(
            TaskStartedEvent(workload.key, workload.try_number, self.clock(), "worker-1", 4242)
        )

    def finish(
        self,
        task_id: str,
        state: TaskState = TaskState.SUCCESS,
        map_index: int = -1,
        run_id: str | None = None,
        **fields: Any,
    ) -> TaskFinishedEvent:
        workload, _ = self.held.pop(self.key(task_id, map_index, run_id))
        event = TaskFinishedEvent(
            key=workload.key,
            try_number=workload.try_number,
            state=state,
            start_date=self.clock(),
            end_date=self.clock(),
            **{"step_id": workload.step_id, **fields},
        )
        self.events.append(event)
        return event

    def run(self, task_id: str, reader: Any, map_index: int = -1,
            run_id: str | None = None) -> TaskFinishedEvent:
        """Really run a held workload (as a worker would) and report its outcome."""
        workload, task = self.held.pop(self.key(task_id, map_index, run_id))
        event = run_task_try(task, workload, reader, self.clock)
        self.events.append(event)
        return event

    def held_ids(self) -> set[str]:
        return {k.task_id if k.map_index < 0 else f"{k.task_id}[{k.map_index}]"
                for k in self.held}


class Engine:
    """A scheduler, a store and an executor sharing one fake clock.

    As in production, the scheduler schedules the DAGs' serialized structures; only the
    executor's tries and the callbacks run the live DAGs.
    """

    def __init__(
        self,
        *dags: DAG,
        store: Store | None = None,
        executor: Any = None,
        held: bool = False,
        slots: int = 1_000,
        callbacks: CallbackRunner | None = None,
        clock: FakeClock | None = None,
    ) -> None:
        self.clock = clock or FakeClock()
        raw = store if store is not None else store_factory()
        if isinstance(raw, AutoCommit):
            raw = raw.raw
        self.raw_store: Store = raw
        self.store: Store = autocommit(raw)
        self.dags: dict[str, DAG] = {d.dag_id: d for d in dags}
        if executor is None:
            executor = (HeldExecutor(self.clock, self.dags, slots) if held
                        else InProcessExecutor(StoreXComReader(raw), self.clock, self.dags))
        self.executor = executor
        self.scheduler = Scheduler(raw, executor, serialized(dags),
                                   callbacks or InlineCallbackRunner(self.dags))

    def set_dags(self, *dags: DAG) -> None:
        """Give the scheduler (new versions of) these DAGs, as a new parse would."""
        for dag in dags:
            self.dags[dag.dag_id] = dag
            for runner in (self.executor, self.scheduler.callbacks):
                live = getattr(runner, "dags", None)  # the in-process ones run live DAGs
                if isinstance(live, dict):
                    live[dag.dag_id] = dag
        self.scheduler.dags.update(serialized(dags))

    def trigger(self, dag: DAG, logical_date: datetime = START,
                conf: dict[str, Any] | None = None) -> DagRunRecord:
        interval = dag.timetable.data_interval_for(logical_date)
        return self.scheduler.trigger(dag.dag_id, logical_date, interval, self.clock(), conf=conf)

    def tick(self) -> TickResult:
        return self.scheduler.tick(self.clock())

    def run_to_end(self, run: DagRunRecord, max_ticks: int = 1_000) -> DagRunRecord:
        """Tick until the run finishes, jumping the clock to each timed wake-up."""
        for _ in range(max_ticks):
            current = self.run_record(run)
            if current.state in FINISHED_RUN_STATES:
                return current
            result = self.tick()
            if not result.worked:
                assert result.next_wakeup is not None, (
                    f"run {run.run_id} is stuck: {self.states(run)}"
                )
                self.clock.now = max(self.clock.now, result.next_wakeup)
        raise AssertionError(f"run {run.run_id} did not finish in {max_ticks} ticks")

    def run_record(self, run: DagRunRecord) -> DagRunRecord:
        found = self.store.runs.get(run.dag_id, run.run_id)
        assert found is not None
        return found

    def ti(self, run: DagRunRecord, task_id: str, map_index: int = -1) -> TaskInstanceRecord:
        found = self.store.task_instances.get(
            TaskInstanceKey(run.dag_id, run.run_id, task_id, map_index)
        )
        assert found is not None, f"no task instance {task_id}[{map_index}] in {run.run_id}"
        return found

    def states(self, run: DagRunRecord) -> dict[str, str]:
        return {ti.label: ti.state.value
                for ti in self.store.task_instances.for_run(run.dag_id, run.run_id)}
