"""StatsD: the figures of a run, and those task code reports, reach a real UDP listener."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from millstream import DAG
from millstream.config import Settings, SettingsError, load_settings
from millstream.metrics import counter, gauge, histogram
from millstream.operators.python import PythonOperator
from tests.integration.observability.conftest import UdpListener


def _report() -> None:
    counter("records_processed", 400, source="sales_db")
    gauge("data_freshness_minutes", 12.5)
    histogram("extract_seconds", 0.25)


def _dag() -> DAG:
    with DAG("statsd_dag", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)) as dag:
        extract = PythonOperator(task_id="extract", python_callable=_report)
        load = PythonOperator(task_id="load", python_callable=lambda: None)
        extract >> load
    return dag


def test_plain_statsd_puts_labels_in_the_names(
    observe: Callable[..., Settings], udp_listener: UdpListener,
) -> None:
    observe(metrics__statsd_host="127.0.0.1", metrics__statsd_port=udp_listener.port,
            metrics__statsd_prefix="ms")

    assert _dag().test().state == "success"

    lines = udp_listener.received()
    assert "ms.task_tries_finished.statsd_dag.extract.success:1|c" in lines
    assert "ms.task_tries_finished.statsd_dag.load.success:1|c" in lines
    assert "ms.dag_runs_created.statsd_dag.manual:1|c" in lines
    assert any(re.fullmatch(r"ms\.dag_run_duration\.statsd_dag\.success:[0-9.]+\|ms", line)
               for line in lines), lines
    assert any(re.fullmatch(r"ms\.task_duration\.statsd_dag\.extract:[0-9.]+\|ms", line)
               for line in lines), lines
    assert any(line.startswith("ms.task_queue_latency.scheduled_to_queued:") for line in lines)
    # Task code's figures, sent from the try: its dag, task and run type, then its labels.
    assert "ms.records_processed.statsd_dag.extract.manual.sales_db:400|c" in lines, lines
    assert "ms.data_freshness_minutes.statsd_dag.extract.manual:12.5|g" in lines, lines
    assert "ms.extract_seconds.statsd_dag.extract.manual:0.25|ms" in lines, lines


def test_dogstatsd_tags_carry_the_labels_and_the_host(
    observe: Callable[..., Settings], udp_listener: UdpListener,
) -> None:
    observe(metrics__statsd_host="localhost", metrics__statsd_port=udp_listener.port,
            metrics__statsd_datadog_tags="true")

    assert _dag().test().state == "success"

    lines = udp_listener.received()
    finished = [line for line in lines if line.startswith("millstream.task_tries_finished:")]
    assert len(finished) == 2, lines
    tags = dict(t.split(":", 1) for t in finished[0].split("|#")[1].split(","))
    assert tags["dag"] == "statsd_dag" and tags["state"] == "success" and tags["hostname"]
    assert any(line.startswith("millstream.records_processed:400|c|#") and
               "source:sales_db" in line and "task:extract" in line for line in lines), lines


def test_off_sends_nothing(observe: Callable[..., Settings],
                           udp_listener: UdpListener) -> None:
    observe(metrics__statsd_host="127.0.0.1", metrics__statsd_port=udp_listener.port,
            metrics__enabled="false")

    assert _dag().test().state == "success"

    assert udp_listener.received() == []


def test_a_bad_prefix_is_refused_by_name(tmp_path: object) -> None:
    with pytest.raises(SettingsError, match=r"metrics\.statsd_prefix"):
        load_settings(environ={"MILLSTREAM__METRICS__STATSD_PREFIX": "a b"})


def test_what_the_database_holds_goes_out_with_the_schedulers_heartbeat(
    observe: Callable[..., Settings], udp_listener: UdpListener,
) -> None:
    from millstream import observability
    from millstream.store.memory import MemoryStore

    observe(metrics__statsd_host="127.0.0.1", metrics__statsd_port=udp_listener.port)
    store = MemoryStore()
    now = datetime.now(UTC)
    with store.transaction():
        store.pools.set("warehouse", 3)
        store.import_errors.set("/dags/broken.py", "Traceback ...", now)
        store.jobs.heartbeat("scheduler", "sched-1", 42, now)
        observability.database_figures(store)

    lines = udp_listener.received()
    assert "millstream.pool_slots.warehouse.free:3|g" in lines, lines
    assert "millstream.pool_slots.default_pool.running:0|g" in lines
    assert "millstream.dag_import_errors:1|g" in lines
    assert any(re.fullmatch(r"millstream\.heartbeat_age_seconds\.scheduler\.sched-1:[0-9.]+\|g",
                            line) for line in lines), lines
