"""A Celery worker's /metrics after a run: the tries it ran and what their code reported."""

from __future__ import annotations

import socket

import httpx
from prometheus_client.parser import text_string_to_metric_families

from millstream.model.states import DagRunState
from tests.integration.celery.celery_helpers import CeleryHome, worker_ready
from tests.integration.engine.engine_helpers import wait_for

DAG = """
    from datetime import datetime

    from millstream import DAG
    from millstream.metrics import counter
    from millstream.operators.python import PythonOperator

    def extract():
        counter("records_processed", 250, source="crm")

    with DAG("celery_metrics", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        PythonOperator(task_id="extract", python_callable=extract) >> PythonOperator(
            task_id="load", python_callable=lambda: None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_worker_serves_the_figures_of_the_tries_it_ran(home: CeleryHome) -> None:
    port = free_port()
    home.write_dag("celery_metrics.py", DAG)
    worker = home.start_worker("w1", env={"MILLSTREAM__METRICS__WORKER_PORT": str(port)})
    home.start("scheduler")
    wait_for(lambda: worker_ready(worker), 60, "the worker to be ready", home.tails)
    wait_for(lambda: home.parsed("celery_metrics"), 60, "the DAG to be parsed", home.tails)
    run_id = home.trigger("celery_metrics")
    wait_for(lambda: home.finished_run("celery_metrics", run_id), 120, "the run to finish",
             home.tails)
    assert home.run("celery_metrics", run_id).state is DagRunState.SUCCESS  # type: ignore[union-attr]

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]

    def value(name: str, **labels: str) -> float:
        (found,) = [s.value for s in samples if s.name == name and all(
            s.labels.get(k) == v for k, v in labels.items())]
        return found

    for task in ("extract", "load"):
        assert value("millstream_task_tries_finished_total", dag="celery_metrics", task=task,
                     state="success", component="worker") == 1
        assert value("millstream_task_duration_seconds_count", dag="celery_metrics",
                     task=task) == 1
    assert value("millstream_records_processed_total", dag="celery_metrics", task="extract",
                 source="crm", component="worker") == 250
