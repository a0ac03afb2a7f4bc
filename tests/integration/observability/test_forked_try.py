"""A try forked by the local executor: log lines (JSON or text) that name the try, task code's
metrics carried back in its outcome, and its span's traceparent in its environment."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from millstream.executors.local import LocalExecutor
from millstream.model.states import TaskState
from millstream.observability import families, logs, user_metrics
from millstream.observability.tracing import traceparent
from millstream.runtime.events import TaskFinishedEvent, TaskWorkload
from millstream.runtime.worker import try_log_path
from millstream.store.memory import MemoryStore
from millstream.store.records import DagRunRecord, TaskInstanceKey
from tests.try_events import wait_for_finished

DAG_SOURCE = textwrap.dedent('''
    import logging
    import os
    from datetime import datetime
    from millstream import DAG
    from millstream.metrics import counter, gauge
    from millstream.operators.python import PythonOperator

    def load():
        logging.getLogger("etl").info("loaded %d rows", 3)
        counter("rows_loaded", 3, table="orders")
        counter("rows_loaded", 4, table="orders")
        gauge("quality_score", 97.5)
        logging.getLogger("etl").info("traceparent %s", os.environ["TRACEPARENT"])

    with DAG("forked_obs", start_date=datetime(2026, 1, 1), schedule=None) as dag:
        PythonOperator(task_id="load", python_callable=load)
''')
LOGICAL = datetime(2026, 1, 1, tzinfo=UTC)


def _run_one(tmp_path: Path) -> tuple[TaskInstanceKey, TaskFinishedEvent, Path]:
    dag_file = tmp_path / "dags" / "forked_obs.py"
    dag_file.parent.mkdir()
    dag_file.write_text(DAG_SOURCE)
    log_folder = tmp_path / "logs"
    executor = LocalExecutor(1, log_folder, lambda: MemoryStore().xcoms)
    executor.start()  # forked after the log format was chosen: the tries inherit it
    key = TaskInstanceKey("forked_obs", "manual__1", "load")
    try:
        run = DagRunRecord("forked_obs", "manual__1", LOGICAL, LOGICAL - timedelta(days=1),
                           LOGICAL)
        executor.submit(TaskWorkload(key, 1, 0, run, {}, str(dag_file)))
        finished = wait_for_finished(executor)
    finally:
        executor.stop(timeout=5.0, kill=True)
    return key, finished, try_log_path(log_folder, key, 1)


def test_json_try_log_metrics_and_trace_context(tmp_path: Path) -> None:
    logs.set_log_format("json")

    key, event, log_path = _run_one(tmp_path)

    assert event.state is TaskState.SUCCESS, event.error
    records = [json.loads(line) for line in log_path.read_text().splitlines()
               if line.startswith("{")]
    assert records, log_path.read_text()
    for record in records:
        assert (record["dag_id"], record["run_id"], record["task_id"], record["try_number"],
                record["map_index"]) == ("forked_obs", "manual__1", "load", 1, -1), record
        assert record["level"] and record["timestamp"] and record["logger"]
    messages = [r["message"] for r in records]
    assert "loaded 3 rows" in messages
    assert f"traceparent {traceparent(key, 1)}" in messages
    # Task code's figures, summed per series, travel back in the outcome ...
    samples = sorted((json.loads(text) for text in event.metrics), key=lambda s: s["name"])
    assert samples == [
        {"kind": "gauge", "name": "millstream_quality_score", "value": 97.5,
         "labels": {"dag": "forked_obs", "task": "load", "run_type": "manual"}},
        {"kind": "counter", "name": "millstream_rows_loaded", "value": 7.0,
         "labels": {"dag": "forked_obs", "task": "load", "run_type": "manual",
                    "table": "orders"}},
    ]
    # ... and the scheduler adds them to the worker's families.
    user_metrics.apply_samples(event.metrics)
    value = families.GROUPS.worker.get_sample_value(
        "millstream_rows_loaded_total",
        {"dag": "forked_obs", "task": "load", "run_type": "manual", "table": "orders"})
    assert value is not None and value >= 7


def test_every_logged_line_of_a_text_try_log_names_the_try(tmp_path: Path) -> None:
    _, event, log_path = _run_one(tmp_path)

    assert event.state is TaskState.SUCCESS, event.error
    lines = log_path.read_text().splitlines()
    logged = [line for line in lines if line.startswith("[")]
    assert len(logged) >= 4, lines  # the start, the task's two records, the end
    for line in logged:
        assert "] {dag=forked_obs run=manual__1 task=load try=1} " in line, line
    assert any(line.endswith("INFO etl: loaded 3 rows") for line in logged), lines
