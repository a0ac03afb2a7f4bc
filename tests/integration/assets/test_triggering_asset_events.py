"""``triggering_asset_events`` in the context of an asset-triggered run's tasks.

The real scheduler runs the producers (their tasks in this process, as ``dag.test()``
runs them) over the in-memory store and over SQLite; asset scheduling creates the
consumer's run from the events they recorded; the consumer's tasks report what their
context showed them, in Python and in a template.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.autocommit import autocommit

from millstream import DAG, Asset
from millstream.model.states import FINISHED_RUN_STATES, DagRunState
from millstream.operators.python import PythonOperator
from millstream.parsing.serialize import DagStructure
from millstream.runtime.asset_events import TriggeringAssetEvents
from millstream.scheduler.assets import AssetScheduling
from millstream.store.current import using_store
from millstream.store.interfaces import Store
from millstream.store.memory import MemoryStore
from millstream.store.records import DagRunRecord
from millstream.store.sql import SqlStore, make_engine
from millstream.store.sql.migrate import migrate
from millstream.testing import in_process_scheduler

START = datetime(2026, 1, 1, tzinfo=UTC)
SALES = Asset("sales_fact", uri="warehouse://sales/fact", extra={"format": "parquet"})
CUSTOMERS = Asset("warehouse.customers")


def _load() -> str:
    return "loaded"


def _report(triggering_asset_events: Any, dag_run: Any) -> dict[str, Any]:
    """What the task saw, as JSON."""
    if SALES not in triggering_asset_events:
        return {"run_type": dag_run.run_type, "uris": list(triggering_asset_events)}
    sales = triggering_asset_events[SALES]  # an Asset is a key, as its URI is
    first = sales[0]
    return {
        "run_type": dag_run.run_type,
        "uris": list(triggering_asset_events),
        "events": {
            uri: [{"id": e.id, "uri": e.uri, "timestamp": e.timestamp.isoformat(),
                   "source": [e.source_dag_id, e.source_task_id, e.source_run_id,
                              e.source_map_index],
                   "extra": e.extra}
                  for e in events]
            for uri, events in triggering_asset_events.items()
        },
        "sales_asset": [first.asset.name, first.asset.uri, first.asset.extra],
        "sales_source_run": [first.source_dag_run.run_id, first.source_dag_run.state.value],
        "by_uri_is_by_asset": triggering_asset_events["warehouse://sales/fact"] == sales,
        "contains": [SALES in triggering_asset_events, "nope" in triggering_asset_events],
    }


def _echo(first_source_run: str, events_count: str) -> list[str]:
    return [first_source_run, events_count]


def _dags() -> dict[str, DAG]:
    with DAG("sales_load", schedule=None, start_date=START) as sales_load:
        PythonOperator(task_id="load", python_callable=_load, outlets=[SALES])
    with DAG("customers_load", schedule=None, start_date=START) as customers_load:
        PythonOperator(task_id="load", python_callable=_load, outlets=[CUSTOMERS])
    with DAG("sales_report", schedule=[SALES, CUSTOMERS], start_date=START) as report:
        PythonOperator(task_id="report", python_callable=_report)
        PythonOperator(task_id="templated", python_callable=_echo, op_kwargs={
            # the template of Airflow's documentation
            "first_source_run": "{{ (triggering_asset_events.values() | first | first)"
                                ".source_dag_run.run_id if triggering_asset_events "
                                "else 'no events' }}",
            "events_count": "{{ triggering_asset_events | length }}",
        })
    return {dag.dag_id: dag for dag in (sales_load, customers_load, report)}


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore(open_pools=True)
        return
    url = f"sqlite:///{tmp_path / 'millstream.db'}"
    migrate(url)
    engine = make_engine(url)
    sql = SqlStore(engine, open_pools=True)
    try:
        yield sql
    finally:
        sql.close()
        engine.dispose()


class Engine:
    """The scheduler over ``store`` with the DAGs stored and their assets registered."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dags = _dags()
        self.clock = lambda: datetime.now(UTC)
        with store.transaction():
            for dag_id, dag in self.dags.items():
                structure = DagStructure.from_dag(dag)
                store.dags.upsert(dag_id, None, structure.to_json(), structure.version, START)
        self.scheduler = in_process_scheduler(store, self.dags.values(), self.clock)
        self.assets = AssetScheduling()
        self.assets.register(store, self.scheduler.dags, START)

    def run(self, dag_id: str, logical_date: datetime) -> DagRunRecord:
        dag = self.dags[dag_id]
        run = self.scheduler.trigger(dag_id, logical_date,
                                     dag.timetable.data_interval_for(logical_date), self.clock())
        return self.until_finished(run)

    def until_finished(self, run: DagRunRecord) -> DagRunRecord:
        with using_store(self.store):
            for _ in range(100):
                self.scheduler.tick(self.clock())
                current = autocommit(self.store).runs.get(run.dag_id, run.run_id)
                assert current is not None
                if current.state in FINISHED_RUN_STATES:
                    assert current.state is DagRunState.SUCCESS, current
                    return current
        raise AssertionError(f"run {run.run_id} of {run.dag_id} did not finish")

    def create_asset_runs(self) -> list[DagRunRecord]:
        with self.store.transaction():
            created = self.assets.create_runs(self.store, self.scheduler.dags, set(),
                                             self.clock())
        self.scheduler.poke()
        return created

    def xcom(self, run: DagRunRecord, task_id: str) -> Any:
        text = autocommit(self.store).xcoms.get_xcom(run.dag_id, run.run_id, task_id, -1,
                                                     "return_value")
        assert text is not None, f"{task_id} returned nothing"
        return json.loads(text)


def test_an_asset_triggered_run_sees_the_events_it_was_made_from(store: Store) -> None:
    engine = Engine(store)
    first_sales = engine.run("sales_load", START)
    second_sales = engine.run("sales_load", datetime(2026, 1, 2, tzinfo=UTC))
    with store.transaction():  # an update no task made (as from outside millstream)
        outside = store.assets.record_event(CUSTOMERS.uri, datetime.now(UTC),
                                            extra={"rows": 5})
    customers = engine.run("customers_load", START)

    (run,) = engine.create_asset_runs()
    assert run.dag_id == "sales_report" and run.run_type == "asset_triggered"
    engine.until_finished(run)
    consumed = autocommit(store).assets.run_events("sales_report", run.run_id)
    assert [(e.uri, e.source_run_id) for e in consumed] == [
        (SALES.uri, first_sales.run_id), (SALES.uri, second_sales.run_id),
        (CUSTOMERS.uri, None), (CUSTOMERS.uri, customers.run_id)]

    seen = engine.xcom(run, "report")
    assert seen["run_type"] == "asset_triggered"
    assert seen["uris"] == [SALES.uri, CUSTOMERS.uri]
    assert seen["events"] == {
        uri: [{"id": e.id, "uri": e.uri, "timestamp": e.timestamp.isoformat(),
               "source": [e.source_dag_id, e.source_task_id, e.source_run_id,
                          e.source_map_index],
               "extra": e.extra}
              for e in consumed if e.uri == uri]
        for uri in (SALES.uri, CUSTOMERS.uri)
    }
    assert seen["events"][CUSTOMERS.uri][0] == {
        "id": outside.id, "uri": CUSTOMERS.uri, "timestamp": outside.timestamp.isoformat(),
        "source": [None, None, None, -1], "extra": {"rows": 5}}
    assert seen["events"][SALES.uri][0]["source"] == ["sales_load", "load",
                                                     first_sales.run_id, -1]
    assert seen["sales_asset"] == ["sales_fact", SALES.uri, {"format": "parquet"}]
    assert seen["sales_source_run"] == [first_sales.run_id, "success"]
    assert seen["by_uri_is_by_asset"] is True
    assert seen["contains"] == [True, False]
    assert engine.xcom(run, "templated") == [first_sales.run_id, "2"]


def test_other_runs_see_no_events(store: Store) -> None:
    engine = Engine(store)
    manual = engine.run("sales_report", START)  # a manual run of the asset-scheduled DAG
    assert engine.xcom(manual, "templated") == ["no events", "0"]
    assert engine.xcom(manual, "report") == {"run_type": "manual", "uris": []}
    events = TriggeringAssetEvents(manual.dag_id, manual.run_id)
    assert "not read yet" in repr(events)  # the store is read on first use only
    with using_store(store):
        assert (dict(events), len(events)) == ({}, 0)
    assert repr(events) == "TriggeringAssetEvents({})"
    with pytest.raises(KeyError):
        events[SALES]
