"""Run creation looks only at due DAGs; a try's start alone opens no transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from millstream import DAG
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.parsing.serialize import DagStructure
from millstream.scheduler.callbacks import InlineCallbackRunner
from millstream.scheduler.job import JobTimings, SchedulerJob
from millstream.scheduler.runs import create_run
from millstream.store.interfaces import Store

from . import harness
from .harness import START, Engine, FakeClock, HeldExecutor


def _minutely(dag_id: str) -> DAG:
    with DAG(dag_id, start_date=START, schedule="* * * * *", catchup=False) as dag:
        EmptyOperator(task_id="a")
    return dag


class World:
    """A scheduler job over the test's store kind, its DAGs parsed from live objects."""

    def __init__(self, *dags: DAG, cap: int = 10, timings: JobTimings | None = None) -> None:
        self.dags = {dag.dag_id: dag for dag in dags}
        self.clock = FakeClock(START + timedelta(minutes=30, seconds=5))
        self.store: Store = harness.store_factory()
        self.executor = HeldExecutor(self.clock, self.dags)
        self.job = SchedulerJob(self.store, self.executor, self._parse, lambda *_: None,
                                InlineCallbackRunner({}), timings, clock=self.clock,
                                max_runs_per_tick=cap)

    def _parse(self, store: Store, now: datetime) -> None:
        with store.transaction():
            for dag in self.dags.values():
                structure = DagStructure.from_dag(dag)
                store.dags.upsert(dag.dag_id, None, structure.to_json(), structure.version,
                                  now)

    def step(self, **delta: float) -> None:
        self.job.step(self.clock.advance(**delta))

    def logical_dates(self, dag_id: str) -> list[datetime]:
        with self.store.transaction():
            return [run.logical_date for run in self.store.runs.list(dag_id)]


def test_the_due_run_is_created_and_the_dag_is_next_due_when_its_next_interval_ends() -> None:
    world = World(_minutely("every_minute"))
    world.step(seconds=0)
    latest = START + timedelta(minutes=29)  # the interval 12:29-12:30 ended at 12:30
    assert world.logical_dates("every_minute") == [latest]
    with world.store.transaction():
        assert world.store.dags.due(world.clock()) == []
        assert world.store.dags.due(START + timedelta(minutes=31)) == ["every_minute"]
    world.step(seconds=56)  # 12:31:01
    assert world.logical_dates("every_minute") == [latest, latest + timedelta(minutes=1)]


def test_a_dag_that_is_not_due_is_not_looked_at() -> None:
    world = World(_minutely("every_minute"))
    world.step(seconds=0)
    with world.store.transaction():
        world.store.dags.set_next_due("every_minute", START + timedelta(days=1))
    world.step(minutes=5)
    assert len(world.logical_dates("every_minute")) == 1
    with world.store.transaction():
        world.store.dags.set_next_due("every_minute", world.clock())
    world.step(seconds=1)
    assert world.logical_dates("every_minute")[-1] == START + timedelta(minutes=34)


def test_a_dag_whose_max_active_runs_is_full_stays_due() -> None:
    dag = _minutely("one_at_a_time")
    dag.max_active_runs = 1
    world = World(dag)
    world.step(seconds=0)
    world.step(minutes=1)  # the run of 12:29 is still running
    assert len(world.logical_dates("one_at_a_time")) == 1
    with world.store.transaction():
        assert world.store.dags.due(world.clock()) == ["one_at_a_time"]


def test_a_round_stopped_by_the_cap_goes_on_at_the_next_step() -> None:
    world = World(*[_minutely(f"dag{i:02d}") for i in range(25)], cap=10)
    world.step(seconds=0)
    made = [sum(len(world.logical_dates(f"dag{i:02d}")) for i in range(25))]
    for _ in range(2):
        world.step(seconds=0.01)  # well within the schedule interval
        made.append(sum(len(world.logical_dates(f"dag{i:02d}")) for i in range(25)))
    assert made == [10, 20, 25]


def test_a_round_begins_when_a_dag_becomes_due_not_a_schedule_interval_later() -> None:
    hour = timedelta(hours=1)
    rare = JobTimings(parse_interval=hour, schedule_interval=hour, heartbeat_interval=hour,
                      zombie_timeout=2 * hour)
    world = World(_minutely("every_minute"), _minutely("other"), timings=rare)
    world.step(seconds=0)  # 12:30:05: the runs of 12:29
    # Nothing more to do: the scheduler sleeps until the next interval ends.
    assert world.job.step(world.clock()) == 55.0
    world.step(seconds=54.5)
    assert len(world.logical_dates("every_minute")) == 1
    world.step(seconds=0.5)  # 12:31:00
    latest = START + timedelta(minutes=30)
    assert world.logical_dates("every_minute")[-1] == latest
    assert world.logical_dates("other")[-1] == latest


def _catching_up(dag_id: str, max_active_runs: int = 16) -> DAG:
    with DAG(dag_id, start_date=START, schedule="@hourly", catchup=True,
             max_active_runs=max_active_runs) as dag:
        EmptyOperator(task_id="a")
    return dag


def _trigger(world: World, dag_id: str, logical_date: datetime) -> None:
    """A manual run of the DAG on ``logical_date``, as a user would make it."""
    structure = DagStructure.from_dag(world.dags[dag_id])
    interval = structure.timetable.data_interval_for(logical_date)
    with world.store.transaction():
        create_run(world.store, structure, logical_date, interval, world.clock(), "manual")


def _run_types(world: World, dag_id: str) -> list[tuple[int, str]]:
    """(minutes after START, run type) of each of the DAG's runs."""
    with world.store.transaction():
        return [((run.logical_date - START) // timedelta(minutes=1), run.run_type)
                for run in world.store.runs.list(dag_id)]


def test_a_manual_run_on_the_due_date_is_passed_over_and_the_others_get_theirs() -> None:
    world = World(*[_minutely(f"dag{i}") for i in range(3)], cap=10)
    _trigger(world, "dag1", START + timedelta(minutes=29))  # the date due at 12:30
    world.step(seconds=0)
    assert _run_types(world, "dag0") == [(29, "scheduled")]
    assert _run_types(world, "dag1") == [(29, "manual")]
    assert _run_types(world, "dag2") == [(29, "scheduled")]
    with world.store.transaction():  # dealt with: not due until the next interval ends
        assert world.store.dags.due(world.clock()) == []
    world.step(minutes=1)
    assert _run_types(world, "dag1") == [(29, "manual"), (30, "scheduled")]


def test_a_catchup_past_a_date_with_a_manual_run_keeps_the_slot_it_would_have_used() -> None:
    world = World(_catching_up("hourly", max_active_runs=3), _minutely("other"), cap=10)
    world.clock.now = START + timedelta(hours=5, seconds=5)  # five hours have ended
    _trigger(world, "hourly", START + timedelta(hours=1))
    world.step(seconds=0)
    # The manual run takes one of the three slots; the schedule passes over its hour.
    assert _run_types(world, "hourly") == [(0, "scheduled"), (60, "manual"),
                                           (120, "scheduled")]
    assert _run_types(world, "other") == [(60 * 5 - 1, "scheduled")]
    with world.store.transaction():  # two hours are left for when a slot is free
        assert world.store.dags.due(world.clock()) == ["hourly"]


def test_a_full_dag_stays_due_and_the_others_of_the_round_get_their_runs() -> None:
    full = _minutely("full")
    full.max_active_runs = 1
    world = World(_minutely("early"), full, _minutely("late"), cap=10)
    _trigger(world, "full", START)
    world.step(seconds=0)
    assert [len(world.logical_dates(d)) for d in ("early", "full", "late")] == [1, 1, 1]
    assert _run_types(world, "full") == [(0, "manual")]
    with world.store.transaction():
        assert world.store.dags.due(world.clock()) == ["full"]


def test_the_cap_shares_long_catchups_dag_after_dag() -> None:
    world = World(_catching_up("a"), _catching_up("b"), _catching_up("c"), cap=4)
    world.clock.now = START + timedelta(hours=5, seconds=5)  # five runs due for each
    made = []
    for _ in range(5):
        world.step(seconds=0.01)
        made.append([len(world.logical_dates(d)) for d in ("a", "b", "c")])
    assert made == [[4, 0, 0], [4, 4, 0], [4, 4, 4], [5, 5, 5], [5, 5, 5]]


def test_the_cap_stops_a_round_within_a_dags_catchup() -> None:
    world = World(_catching_up("a"), _catching_up("b"), cap=7)
    world.clock.now = START + timedelta(hours=5, seconds=5)
    world.step(seconds=0)
    assert [len(world.logical_dates(d)) for d in ("a", "b")] == [5, 2]
    world.step(seconds=0.01)  # the next round begins after b, the DAG the cap stopped at
    assert [len(world.logical_dates(d)) for d in ("a", "b")] == [5, 5]


def test_a_start_alone_waits_for_an_outcome_or_the_delay() -> None:
    with DAG("pair", start_date=START, schedule=None) as dag:
        EmptyOperator(task_id="a")
        EmptyOperator(task_id="b")
    engine = Engine(dag, held=True)
    engine.scheduler.start_batch_delay = timedelta(seconds=1)
    run = engine.trigger(dag)
    engine.tick()
    engine.executor.start("a")
    result = engine.tick()
    assert engine.ti(run, "a").state is TaskState.QUEUED  # held, nothing written
    assert result.next_wakeup == engine.clock() + timedelta(seconds=1)
    engine.clock.advance(seconds=1)
    engine.tick()
    assert engine.ti(run, "a").state is TaskState.RUNNING

    engine.executor.start("b")
    engine.tick()
    assert engine.ti(run, "b").state is TaskState.QUEUED
    engine.clock.advance(seconds=0.2)
    engine.executor.finish("a")
    result = engine.tick()  # another try's outcome: b's start goes on waiting for its own
    assert engine.ti(run, "a").state is TaskState.SUCCESS
    assert engine.ti(run, "b").state is TaskState.QUEUED
    assert result.next_wakeup == engine.clock() + timedelta(seconds=0.8)
    engine.clock.advance(seconds=0.8)
    engine.tick()  # ... for the delay at most, counted from when it came
    assert engine.ti(run, "b").state is TaskState.RUNNING
    engine.executor.finish("b")
    engine.tick()
    assert engine.run_record(run).state is DagRunState.SUCCESS


def test_a_short_try_start_and_end_become_one_write() -> None:
    with DAG("single", start_date=START, schedule=None) as dag:
        EmptyOperator(task_id="a")
    engine = Engine(dag, held=True)
    engine.scheduler.start_batch_delay = timedelta(seconds=1)
    run = engine.trigger(dag)
    engine.tick()
    engine.executor.start("a")
    engine.tick()
    engine.clock.advance(seconds=0.5)
    engine.executor.finish("a")
    engine.tick()
    ti = engine.ti(run, "a")
    assert ti.state is TaskState.SUCCESS
    assert (ti.hostname, ti.pid, ti.start_date) == ("worker-1", 4242, START)
