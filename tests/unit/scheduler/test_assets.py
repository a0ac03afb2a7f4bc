"""Data-aware scheduling: which DAGs are due, and runs created from asset events.

The table tests drive the pure ``due_dags``; the others run producer DAGs through the
scheduler over the in-memory store (a fake clock) and create the consumers' runs as the
scheduler job does each round.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from millstream import DAG, Asset, Param
from millstream.exceptions import StaleRecordError
from millstream.model.intervals import DataInterval
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator
from millstream.scheduler.assets import AssetScheduling, due_dags, interval_of
from millstream.store.asset_records import AssetEventRecord
from millstream.store.records import DagRunRecord

from .harness import START, Engine

SALES, CUSTOMERS = Asset("warehouse.sales_fact"), Asset("warehouse.customers")


@pytest.mark.parametrize(
    ("schedules", "queued", "paused", "due"),
    [
        pytest.param({"report": {"s", "c"}}, {}, set(), [], id="nothing-updated"),
        pytest.param({"report": {"s", "c"}}, {"report": {"s"}}, set(), [],
                     id="two-assets-only-one-updated"),
        pytest.param({"report": {"s", "c"}}, {"report": {"s", "c"}}, set(), ["report"],
                     id="two-assets-both-updated"),
        pytest.param({"report": {"s"}}, {"report": {"s", "other"}}, set(), ["report"],
                     id="extra-queued-assets-do-not-matter"),
        pytest.param({"report": {"s"}}, {"report": {"s"}}, {"report"}, [],
                     id="paused-consumer-waits"),
        pytest.param({"report": {"s"}}, {"audit": {"s"}}, set(), [],
                     id="another-dags-queue-does-not-count"),
        pytest.param({"b": {"s"}, "a": {"s"}, "c": {"c"}}, {"a": {"s"}, "b": {"s"}}, set(),
                     ["a", "b"], id="several-consumers-of-one-asset"),
        pytest.param({"empty": set()}, {"empty": set()}, set(), [],
                     id="no-assets-is-never-due"),
    ],
)
def test_due_dags(schedules: dict[str, set[str]], queued: dict[str, set[str]],
                  paused: set[str], due: list[str]) -> None:
    assert due_dags(schedules, queued, paused) == due


def test_the_interval_spans_the_earliest_to_the_latest_event() -> None:
    def event(i: int, hours: int) -> AssetEventRecord:
        return AssetEventRecord(i, "s", START + timedelta(hours=hours))

    assert interval_of([event(2, 5), event(1, 1), event(3, 3)], START) == DataInterval(
        START + timedelta(hours=1), START + timedelta(hours=5))
    assert interval_of([], START) == DataInterval(START, START)


def _fail() -> None:
    raise RuntimeError("the load failed")


class AssetWorld:
    """Producer and consumer DAGs in one memory store, registered as the scheduler job does."""

    def __init__(self, *dags: DAG) -> None:
        self.engine = Engine(*dags)
        self.dags = self.engine.scheduler.dags  # the structures, as the job schedules them
        self.store = self.engine.store
        for dag_id, structure in self.dags.items():
            self.store.dags.upsert(dag_id, None, structure.to_json(), structure.version,
                                   START)
        self.assets = AssetScheduling()
        self.assets.register(self.store, self.dags, START)

    def produce(self, dag: DAG, minutes: int = 0) -> DagRunRecord:
        """Run the DAG to its end, with the clock moved on by ``minutes`` first."""
        self.engine.clock.advance(minutes=minutes)
        moment = self.engine.clock()
        run = self.engine.scheduler.trigger(dag.dag_id, moment,
                                            dag.timetable.data_interval_for(moment), moment)
        return self.engine.run_to_end(run)

    def schedule(self, paused: set[str] | None = None) -> list[DagRunRecord]:
        """One scheduling round: the asset-triggered runs that are due."""
        with self.store.transaction():
            return self.assets.create_runs(self.store, self.dags, paused or set(),
                                           self.engine.clock())

    def runs(self, dag_id: str) -> list[DagRunRecord]:
        return self.store.runs.list(dag_id)


def _producer(dag_id: str, *outlets: Asset, fail: bool = False) -> DAG:
    with DAG(dag_id, schedule=None) as dag:
        if fail:
            PythonOperator(task_id="load", python_callable=_fail, outlets=list(outlets))
        else:
            EmptyOperator(task_id="load", outlets=list(outlets))
    return dag


def _consumer(dag_id: str, *assets: Asset) -> DAG:
    with DAG(dag_id, schedule=list(assets)) as dag:
        EmptyOperator(task_id="report")
    return dag


def test_a_producer_success_creates_the_consumer_run_exactly_once() -> None:
    producer, consumer = _producer("producer", SALES), _consumer("consumer", SALES)
    world = AssetWorld(producer, consumer)
    assert world.schedule() == []
    produced = world.produce(producer, minutes=5)
    assert produced.state is DagRunState.SUCCESS
    (event,) = world.store.assets.events()
    assert (event.uri, event.source_dag_id, event.source_run_id, event.source_task_id,
            event.source_map_index) == (SALES.uri, "producer", produced.run_id, "load", -1)
    assert event.timestamp == world.engine.ti(produced, "load").end_date

    world.engine.clock.advance(seconds=30)
    (run,) = world.schedule()
    now = world.engine.clock()
    assert (run.dag_id, run.run_type, run.state) == ("consumer", "asset_triggered",
                                                     DagRunState.QUEUED)
    assert run.run_id == f"asset_triggered__{now.isoformat()}"
    assert run.logical_date == now
    assert (run.data_interval_start, run.data_interval_end) == (event.timestamp,
                                                                event.timestamp)
    assert world.store.assets.run_events("consumer", run.run_id) == [event]
    assert world.schedule() == [] and world.schedule() == []
    assert [r.run_id for r in world.runs("consumer")] == [run.run_id]
    finished = world.engine.run_to_end(run)
    assert world.engine.states(finished) == {"report": "success"}


def test_a_failing_or_skipped_producer_records_no_event() -> None:
    failing = _producer("failing", SALES, fail=True)
    with DAG("skipping", schedule=None) as skipping:
        (PythonOperator(task_id="broken", python_callable=_fail)
         >> EmptyOperator(task_id="load", outlets=[SALES]))
    consumer = _consumer("consumer", SALES)
    world = AssetWorld(failing, skipping, consumer)
    assert world.produce(failing).state is DagRunState.FAILED
    run = world.produce(skipping, minutes=1)
    assert world.engine.states(run) == {"broken": "failed", "load": "upstream_failed"}
    assert world.store.assets.events() == []
    assert world.schedule() == [] and world.runs("consumer") == []


def test_a_consumer_of_two_assets_waits_for_both_and_consumes_repeated_events() -> None:
    sales, customers = _producer("sales", SALES), _producer("customers", CUSTOMERS)
    consumer = _consumer("report", SALES, CUSTOMERS)
    world = AssetWorld(sales, customers, consumer)
    first = world.produce(sales, minutes=1)
    assert world.schedule() == []  # only one of its two assets was updated
    world.produce(sales, minutes=10)  # updated again: still one queued update of it
    assert world.schedule() == []
    last = world.produce(customers, minutes=10)
    (run,) = world.schedule()
    events = world.store.assets.run_events("report", run.run_id)
    assert [(e.uri, e.source_dag_id) for e in events] == [
        (SALES.uri, "sales"), (SALES.uri, "sales"), (CUSTOMERS.uri, "customers")]
    assert run.data_interval_start == world.engine.ti(first, "load").end_date
    assert run.data_interval_end == world.engine.ti(last, "load").end_date
    assert world.store.assets.queued("report") == []

    # The next run needs both assets again.
    world.produce(customers, minutes=1)
    assert world.schedule() == []
    world.produce(sales, minutes=1)
    (second,) = world.schedule()
    assert [e.uri for e in world.store.assets.run_events("report", second.run_id)] == [
        CUSTOMERS.uri, SALES.uri]


def test_a_paused_consumer_is_not_queued_for_events_while_paused() -> None:
    producer, consumer = _producer("producer", SALES), _consumer("consumer", SALES)
    world = AssetWorld(producer, consumer)
    world.store.dags.set_paused("consumer", True)
    world.produce(producer, minutes=1)
    assert world.store.assets.queued() == []
    world.store.dags.set_paused("consumer", False)
    assert world.schedule() == []  # updates made while it was paused do not count
    world.produce(producer, minutes=1)
    assert len(world.schedule()) == 1


def test_a_consumer_paused_after_its_update_was_queued_runs_once_unpaused() -> None:
    producer, consumer = _producer("producer", SALES), _consumer("consumer", SALES)
    world = AssetWorld(producer, consumer)
    world.produce(producer, minutes=1)
    world.store.dags.set_paused("consumer", True)
    assert world.schedule(paused={"consumer"}) == []
    assert len(world.store.assets.queued("consumer")) == 1
    world.store.dags.set_paused("consumer", False)
    assert len(world.schedule()) == 1


def test_every_instance_of_a_mapped_producer_records_an_event() -> None:
    with DAG("mapped", schedule=None) as mapped:
        EmptyOperator.partial(task_id="load", outlets=[SALES]).expand(doc_md=["a", "b", "c"])
    consumer = _consumer("consumer", SALES)
    world = AssetWorld(mapped, consumer)
    world.produce(mapped)
    events = world.store.assets.events()
    assert sorted(e.source_map_index for e in events) == [0, 1, 2]
    (run,) = world.schedule()
    assert len(world.store.assets.run_events("consumer", run.run_id)) == 3


def test_two_schedulers_cannot_both_consume_the_same_updates() -> None:
    producer, consumer = _producer("producer", SALES), _consumer("consumer", SALES)
    world = AssetWorld(producer, consumer)
    world.produce(producer)
    seen_by_other = world.store.assets.queued("consumer")
    assert len(world.schedule()) == 1
    with pytest.raises(StaleRecordError, match="consumed by someone else"):
        world.store.assets.consume(seen_by_other)
    assert len(world.runs("consumer")) == 1


def test_a_consumer_that_needs_a_conf_gets_no_run_and_keeps_its_queue() -> None:
    producer = _producer("producer", SALES)
    with DAG("needs_conf", schedule=[SALES],
             params={"region": Param(type="string")}) as consumer:
        EmptyOperator(task_id="report")
    world = AssetWorld(producer, consumer)
    world.produce(producer)
    assert world.schedule() == []
    assert len(world.store.assets.queued("needs_conf")) == 1


def test_a_dag_no_longer_scheduled_on_an_asset_loses_its_queued_update() -> None:
    producer = _producer("producer", SALES, CUSTOMERS)
    consumer = _consumer("consumer", SALES, CUSTOMERS)
    world = AssetWorld(producer, consumer)
    with DAG("consumer", schedule=[CUSTOMERS]) as changed:
        EmptyOperator(task_id="report")
    world.produce(producer)
    assert {e.uri for e in world.store.assets.queued("consumer")} == {SALES.uri, CUSTOMERS.uri}
    world.engine.set_dags(changed)
    assert world.assets.register(world.store, world.dags, START) == 1
    assert world.assets.register(world.store, world.dags, START) == 0  # already recorded
    assert [e.uri for e in world.store.assets.queued("consumer")] == [CUSTOMERS.uri]
    (run,) = world.schedule()
    assert [e.uri for e in world.store.assets.run_events("consumer", run.run_id)] == [
        CUSTOMERS.uri]


def test_references_name_producing_tasks_and_consuming_dags() -> None:
    producer, consumer = _producer("producer", SALES), _consumer("consumer", SALES, CUSTOMERS)
    world = AssetWorld(producer, consumer)
    refs = {r.uri: r for r in world.store.assets.references()}
    assert refs[SALES.uri].producing_tasks == (("producer", "load"),)
    assert refs[SALES.uri].consuming_dags == ("consumer",)
    assert refs[CUSTOMERS.uri].producing_tasks == ()
    assert refs[CUSTOMERS.uri].consuming_dags == ("consumer",)


def test_only_successful_tries_of_a_retried_task_record_events() -> None:
    attempts: list[int] = []

    def flaky(**context: object) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first try fails")

    with DAG("flaky", schedule=None) as producer:
        PythonOperator(task_id="load", python_callable=flaky, retries=1,
                       retry_delay=timedelta(seconds=1), outlets=[SALES])
    world = AssetWorld(producer, _consumer("consumer", SALES))
    run = world.produce(producer)
    assert world.engine.ti(run, "load").state is TaskState.SUCCESS
    assert len(attempts) == 2
    assert len(world.store.assets.events()) == 1
