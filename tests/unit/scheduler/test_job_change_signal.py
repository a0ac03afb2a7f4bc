"""The scheduler job looks at every active run again when the change signal moves, and only
then: a writer outside the scheduler that raises it (and writes no audit record) is seen."""

from __future__ import annotations

from datetime import datetime

from millstream import DAG
from millstream.model.states import TaskState
from millstream.operators.empty import EmptyOperator
from millstream.parsing.serialize import DagStructure
from millstream.scheduler.callbacks import InlineCallbackRunner
from millstream.scheduler.job import SchedulerJob
from millstream.services import trigger
from millstream.store.interfaces import Store
from millstream.store.memory import MemoryStore
from millstream.store.records import DagRunRecord, TaskInstanceKey

from .harness import START, FakeClock, HeldExecutor


def _dag() -> DAG:
    with DAG("signalled", start_date=START, schedule=None) as dag:
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="after_a")
        EmptyOperator(task_id="b")
    return dag


class World:
    """A scheduler job over a memory store, its tries held by the test."""

    def __init__(self) -> None:
        self.dag = _dag()
        self.clock = FakeClock()
        self.store: Store = MemoryStore()
        self.executor = HeldExecutor(self.clock, {self.dag.dag_id: self.dag})
        self.job = SchedulerJob(self.store, self.executor, self._parse, lambda *_: None,
                                InlineCallbackRunner({}), clock=self.clock)

    def _parse(self, store: Store, now: datetime) -> None:
        structure = DagStructure.from_dag(self.dag)
        with store.transaction():
            store.dags.upsert(self.dag.dag_id, None, structure.to_json(), structure.version,
                              now)

    def round(self) -> None:
        """One scheduling round (due runs, the change signal) and its tick."""
        self.job.step(self.clock.advance(seconds=2))

    def audit_count(self) -> int:
        with self.store.transaction():
            return len(self.store.audit.list())

    def state(self, run: DagRunRecord, task_id: str) -> TaskState:
        with self.store.transaction():
            ti = self.store.task_instances.get(
                TaskInstanceKey(run.dag_id, run.run_id, task_id))
        assert ti is not None
        return ti.state


def _a_failed_while_b_runs(world: World) -> DagRunRecord:
    world.round()  # the parse stores the DAG
    run = trigger.trigger_run(world.store, "signalled", who="tests", now=world.clock())
    world.round()
    world.round()
    assert world.executor.held_ids() == {"a", "b"}
    world.executor.finish("a", TaskState.FAILED)
    world.round()
    assert world.state(run, "after_a") is TaskState.UPSTREAM_FAILED
    assert world.executor.held_ids() == {"b"}  # b keeps the run running
    return run


def _reset_a_without_audit(world: World, run: DagRunRecord, signal: bool) -> None:
    """What another writer does behind the scheduler's back: a and its downstream back
    to none, and (or not) the change signal raised. No audit record is written."""
    with world.store.transaction():
        for task_id in ("a", "after_a"):
            ti = world.store.task_instances.get(
                TaskInstanceKey(run.dag_id, run.run_id, task_id))
            assert ti is not None
            world.store.task_instances.set_state(ti, TaskState.NONE, end_date=None)
        if signal:
            world.store.signals.bump()


def test_a_bump_without_an_audit_record_wakes_the_scheduler() -> None:
    world = World()
    run = _a_failed_while_b_runs(world)
    audited = world.audit_count()
    _reset_a_without_audit(world, run, signal=True)
    world.round()
    assert world.executor.held_ids() == {"a", "b"}  # a is looked at again and runs
    assert world.state(run, "a") is TaskState.QUEUED
    assert world.audit_count() == audited


def test_without_the_signal_the_scheduler_does_not_look_again() -> None:
    world = World()
    run = _a_failed_while_b_runs(world)
    _reset_a_without_audit(world, run, signal=False)
    world.round()
    world.round()
    assert world.executor.held_ids() == {"b"}
    assert world.state(run, "a") is TaskState.NONE
