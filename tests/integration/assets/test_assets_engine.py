"""Data-aware scheduling through the real scheduler processes, on SQLite and PostgreSQL.

Producers update assets (``outlets``); a DAG scheduled on those assets gets one run once
every one of them has been updated, from the events it consumed; a failing producer
updates nothing. ``millstream assets list|events`` show it all. With two schedulers on
PostgreSQL, every asset event is consumed by exactly one run.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from engine_helpers import Home, wait_for

from millstream.model.states import DagRunState, TaskState
from millstream.store.records import DagRunRecord

PRODUCERS = """
    from millstream import DAG, Asset
    from millstream.operators.python import PythonOperator

    SALES = Asset("warehouse.sales_fact", extra={"format": "parquet"})
    CUSTOMERS = Asset("warehouse.customers")

    def load():
        return "loaded"

    def broken():
        raise RuntimeError("the source is down")

    with DAG("sales_load", schedule=None) as sales_load:
        PythonOperator(task_id="load", python_callable=load, outlets=[SALES])

    with DAG("customers_load", schedule=None) as customers_load:
        PythonOperator(task_id="load", python_callable=load, outlets=[CUSTOMERS])

    with DAG("broken_load", schedule=None) as broken_load:
        PythonOperator(task_id="load", python_callable=broken, outlets=[SALES])
"""

CONSUMER = """
    from millstream import DAG, Asset
    from millstream.operators.python import PythonOperator

    def report(**context):
        return {"run_type": context["dag_run"].run_type,
                "start": context["data_interval_start"].isoformat(),
                "end": context["data_interval_end"].isoformat()}

    with DAG("sales_report", schedule=[Asset("warehouse.sales_fact"),
                                       Asset("warehouse.customers")]) as dag:
        PythonOperator(task_id="report", python_callable=report)
"""


def _succeeded(home: Home, dag_id: str, run_id: str) -> DagRunRecord | None:
    run = home.finished_run(dag_id, run_id)
    if run is not None:
        assert run.state is DagRunState.SUCCESS, home.describe(dag_id)
    return run


def _cli_error(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "millstream.cli.main", *args],
                          env=home.process_env(), capture_output=True, text=True, timeout=60,
                          cwd=home.scratch)


def test_a_dag_runs_once_every_asset_it_is_scheduled_on_was_updated(home: Home) -> None:
    home.write_dag("producers.py", PRODUCERS)
    home.write_dag("sales_report.py", CONSUMER)
    scheduler = home.start("scheduler")
    detail = lambda: f"{home.describe('sales_report')}\n{scheduler.tail()}"  # noqa: E731
    wait_for(lambda: home.parsed("sales_report") and home.parsed("sales_load"), 60,
             "the scheduler to parse the DAGs", scheduler.tail)
    store = home.store()

    broken = home.trigger("broken_load")
    failed = wait_for(lambda: home.finished_run("broken_load", broken), 60,
                      "the broken producer to fail", scheduler.tail)
    assert failed.state is DagRunState.FAILED
    assert store.assets.events() == []  # a failed try updates nothing

    sales = home.trigger("sales_load")
    wait_for(lambda: _succeeded(home, "sales_load", sales), 60, "sales_load", scheduler.tail)
    (sales_event,) = store.assets.events()
    assert (sales_event.uri, sales_event.source_dag_id, sales_event.source_run_id,
            sales_event.source_task_id) == ("warehouse.sales_fact", "sales_load", sales, "load")
    # One of its two assets was updated: the consumer waits, its update queued.
    assert [e.uri for e in store.assets.queued("sales_report")] == ["warehouse.sales_fact"]

    customers = home.trigger("customers_load")
    (run,) = wait_for(lambda: home.runs("sales_report"), 60, "the asset-triggered run", detail)
    assert run.run_type == "asset_triggered" and run.run_id.startswith("asset_triggered__")
    assert store.assets.queued("sales_report") == []  # consumed by that run, and only it
    finished = wait_for(lambda: _succeeded(home, "sales_report", run.run_id), 60,
                        "the asset-triggered run to succeed", detail)
    customers_event = store.assets.events("warehouse.customers")[0]
    assert customers_event.source_run_id == customers
    consumed = store.assets.run_events("sales_report", run.run_id)
    assert [e.id for e in consumed] == [sales_event.id, customers_event.id]
    assert finished.data_interval_start == sales_event.timestamp
    assert finished.data_interval_end == customers_event.timestamp
    assert home.instance("sales_report", run.run_id, "report").state is TaskState.SUCCESS
    reported = json.loads(store.xcoms.get_xcom("sales_report", run.run_id, "report", -1,
                                               "return_value") or "null")
    assert reported == {"run_type": "asset_triggered",
                        "start": sales_event.timestamp.isoformat(),
                        "end": customers_event.timestamp.isoformat()}
    assert [r.run_id for r in home.runs("sales_report")] == [run.run_id]

    # The CLI shows who produces and consumes each asset, and the events.
    listed = home.cli("assets", "list").stdout
    sales_line = next(line for line in listed.splitlines() if "warehouse.sales_fact" in line)
    assert "broken_load.load" in sales_line and "sales_load.load" in sales_line
    assert "sales_report" in sales_line and "by sales_load.load" in sales_line
    customers_line = next(line for line in listed.splitlines()
                          if "warehouse.customers" in line)
    assert "customers_load.load" in customers_line and "sales_report" in customers_line
    as_json = {a["uri"]: a for a in json.loads(home.cli("assets", "list", "--json").stdout)}
    assert as_json["warehouse.sales_fact"]["consuming_dags"] == ["sales_report"]
    assert as_json["warehouse.sales_fact"]["last_event"]["id"] == sales_event.id
    events = home.cli("assets", "events").stdout
    assert events.index("warehouse.customers") < events.index("warehouse.sales_fact")
    assert customers in events and sales in events
    only_sales = json.loads(home.cli("assets", "events", "--asset", "warehouse.sales_fact",
                                     "--json").stdout)
    assert [e["id"] for e in only_sales] == [sales_event.id]
    assert len(json.loads(home.cli("assets", "events", "--limit", "1", "--json").stdout)) == 1
    unknown = _cli_error(home, "assets", "events", "--asset", "warehouse.nope")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == ("Error: no asset 'warehouse.nope' (see `millstream "
                                      "assets list`)")


FEEDER = """
    from datetime import datetime, timedelta, timezone

    from millstream import DAG, Asset
    from millstream.operators.empty import EmptyOperator
    from millstream.operators.python import PythonOperator

    SALES = Asset("warehouse.sales_fact")
    start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)

    with DAG("hourly_sales", schedule=timedelta(hours=1), start_date=start - timedelta(hours=6),
             catchup=True, max_active_runs=6) as feeder:
        PythonOperator(task_id="load", python_callable=lambda: None, outlets=[SALES])

    with DAG("sales_watch", schedule=[SALES], max_active_runs=16) as watch:
        EmptyOperator(task_id="look")
"""


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_with_two_schedulers_every_asset_event_is_consumed_by_exactly_one_run(
    home: Home,
) -> None:
    home.write_dag("feeder.py", FEEDER)
    home.set(scheduler__parallelism=3)
    first, second = home.start("scheduler"), home.start("scheduler")
    store = home.store()

    def all_consumed() -> bool:
        feeds = home.runs("hourly_sales")
        if len(feeds) < 6 or any(r.state is not DagRunState.SUCCESS for r in feeds):
            return False
        linked = sum(len(store.assets.run_events("sales_watch", r.run_id))
                     for r in home.runs("sales_watch"))
        return linked == len(store.assets.events())

    wait_for(all_consumed, 90, "every event of the six feeds to be consumed",
             lambda: f"{home.describe('hourly_sales')}\n{home.describe('sales_watch')}\n"
                     f"{first.tail()}\n{second.tail()}")
    assert first.popen.poll() is None and second.popen.poll() is None, "a scheduler died"
    events = store.assets.events()
    assert len(events) == len(home.runs("hourly_sales")) >= 6
    watches = home.runs("sales_watch")
    consumed = [e.id for r in watches for e in store.assets.run_events("sales_watch", r.run_id)]
    assert sorted(consumed) == sorted(e.id for e in events)  # each exactly once
    assert all(store.assets.run_events("sales_watch", r.run_id) for r in watches)
    assert all(r.run_type == "asset_triggered" for r in watches)
    wait_for(lambda: all(home.finished_run("sales_watch", r.run_id) for r in watches), 60,
             "the asset-triggered runs to finish", lambda: home.describe("sales_watch"))
