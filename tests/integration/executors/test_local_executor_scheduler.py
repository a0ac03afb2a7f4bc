"""End to end: the real scheduler on SQLite drives the local executor through a DAG file."""

from __future__ import annotations

import textwrap
import time
from datetime import UTC, datetime, timedelta

from millstream.executors.local import LocalExecutor
from millstream.model.states import FINISHED_RUN_STATES, DagRunState
from millstream.parsing.loader import load_dag_file
from millstream.processes import process_exists
from millstream.runtime.worker import try_log_path
from millstream.runtime.xcom import StoreXComReader
from millstream.scheduler.callbacks import InlineCallbackRunner
from millstream.scheduler.loop import Scheduler
from millstream.store.records import TaskInstanceKey
from millstream.store.sql import SqlStore, make_engine
from millstream.store.sql.migrate import migrate
from millstream.testing import serialized
from tests.autocommit import autocommit

PIPELINE = textwrap.dedent(
    """
    from datetime import datetime, timedelta
    from millstream import DAG, task
    from millstream.operators.python import PythonOperator

    def flaky(ti):
        if ti.try_number == 1:
            raise RuntimeError("first try fails")
        return "recovered"

    with DAG("local_e2e", start_date=datetime(2026, 1, 1), schedule=None) as dag:
        @task
        def extract():
            return [3, 1, 2]

        @task
        def double(x):
            return 2 * x

        @task
        def total(values):
            print("total of", values)
            return sum(values)

        retried = PythonOperator(task_id="flaky", python_callable=flaky, retries=1,
                                 retry_delay=timedelta(0))
        total(double.expand(x=extract())) >> retried
    """
)


def test_the_scheduler_runs_a_mapped_pipeline_with_a_retry_on_the_local_executor(tmp_path):
    dag_path = tmp_path / "dags" / "local_e2e.py"
    dag_path.parent.mkdir()
    dag_path.write_text(PIPELINE)
    dags = load_dag_file(dag_path)
    url = f"sqlite:///{tmp_path / 'millstream.db'}"
    migrate(url)
    engine = make_engine(url)
    store = SqlStore(engine, open_pools=True)

    def reader_factory():  # in each try's process: its own engine and connection
        return StoreXComReader(SqlStore(make_engine(url)))

    executor = LocalExecutor(4, tmp_path / "logs", reader_factory)
    view = autocommit(store)  # the test's own reads; the scheduler gets the store itself
    executor.start()
    try:
        scheduler = Scheduler(store, executor, serialized(dags.values()),
                              InlineCallbackRunner(dags))
        now = datetime.now(UTC)
        run = scheduler.trigger("local_e2e", now, dags["local_e2e"].timetable
                                .data_interval_for(now - timedelta(days=1)), now)
        deadline = time.monotonic() + 60
        while True:
            scheduler.tick(datetime.now(UTC))
            current = view.runs.get(run.dag_id, run.run_id)
            assert current is not None
            if current.state in FINISHED_RUN_STATES:
                break
            assert time.monotonic() < deadline, "the run did not finish within 60 s"
            executor.wait_for_events(0.5)
        assert current.state is DagRunState.SUCCESS
        instances = {ti.label: ti for ti in view.task_instances.for_run(run.dag_id, run.run_id)}
        assert {label: ti.state.value for label, ti in instances.items()} == {
            "extract": "success", "double[0]": "success", "double[1]": "success",
            "double[2]": "success", "total": "success", "flaky": "success",
        }
        assert instances["flaky"].try_number == 2
        assert all(ti.pid and ti.hostname for ti in instances.values())
        total = view.xcoms.get_xcom(run.dag_id, run.run_id, "total", -1, "return_value")
        assert total == "12"
        log_text = _log_of(executor, run.dag_id, run.run_id, "total")
        assert "total of [6, 2, 4]" in log_text
    finally:
        server = executor.fork_server_pid
        executor.stop(timeout=5.0, kill=True)
        store.close()
        engine.dispose()
    assert server is not None and not process_exists(server)


def _log_of(executor: LocalExecutor, dag_id: str, run_id: str, task_id: str) -> str:
    return try_log_path(executor.log_folder, TaskInstanceKey(dag_id, run_id, task_id), 1)\
        .read_text()
