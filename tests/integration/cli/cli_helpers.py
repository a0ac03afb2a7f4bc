"""Helpers for the CLI tests: running commands, a DAG file to seed, driving task states."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from millstream.cli.common import open_store
from millstream.cli.main import app
from millstream.model.states import DagRunState, TaskState
from millstream.parsing import load_dag_file
from millstream.parsing.serialize import DagStructure
from millstream.store.interfaces import Store
from millstream.store.records import TaskInstanceKey

POSTGRES_ENV = "MILLSTREAM_TEST_POSTGRES_URL"
NEEDS_POSTGRES = "needs PostgreSQL (set MILLSTREAM_TEST_POSTGRES_URL)"

# Variables that would make rich colour captured output.
FORCING_COLOUR = ("FORCE_COLOR", "TTY_COMPATIBLE")

PIPELINE = """
    from datetime import datetime

    from millstream import DAG, Param
    from millstream.operators.python import PythonOperator


    def extract(n):
        print("extracting", n, "rows")
        return {"rows": int(n)}


    def explode():
        raise RuntimeError("the source is gone")


    def load(ti):
        rows = ti.xcom_pull(task_ids="extract")["rows"]
        print("loading", rows, "rows")
        return rows * 10


    with DAG(
        "pipeline",
        schedule="@daily",
        start_date=datetime(2026, 1, 1),
        params={"n": Param(3, type="integer", minimum=1)},
    ) as dag:
        first = PythonOperator(task_id="extract", python_callable=extract,
                               op_kwargs={"n": "{{ params.n }}"})
        middle = PythonOperator(task_id="explode", python_callable=explode)
        last = PythonOperator(task_id="load", python_callable=load, trigger_rule="all_done")
        first >> middle >> last


    with DAG("manual_only", schedule=None, start_date=datetime(2026, 1, 1)) as other:
        PythonOperator(task_id="only", python_callable=lambda: None)
"""


@dataclass
class Cli:
    """Runs ``millstream`` commands in this process against the test's home folder."""

    home: Path
    runner: CliRunner

    def __call__(self, *args: str, input: str | None = None) -> tuple[int, str, str]:
        result = self.runner.invoke(app, list(args), input=input,
                                    env=dict.fromkeys(FORCING_COLOUR))
        return result.exit_code, result.stdout, result.stderr

    def ok(self, *args: str) -> str:
        code, out, err = self(*args)
        assert code == 0, f"exit {code}\n{out}\n{err}"
        return out

    def seed(self, source: str = PIPELINE, name: str = "pipeline.py") -> Path:
        """Write a DAG file into the dags folder and store each of its DAGs, as a parse would."""
        path = self.home / "dags" / name
        path.write_text(textwrap.dedent(source))
        now = datetime.now(UTC)
        with open_store() as store:
            for dag_id, dag in load_dag_file(path).items():
                structure = DagStructure.from_dag(dag)
                store.dags.upsert(dag_id, str(path), structure.to_json(), structure.version, now)
        return path


def assert_one_line_error(stderr: str, *fragments: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], stderr


def drive(store: Store, dag_id: str, run_id: str, task_id: str, state: TaskState) -> None:
    """Move a task instance to a finished state the way a scheduler and worker would."""
    ti = store.task_instances.get(TaskInstanceKey(dag_id, run_id, task_id))
    assert ti is not None
    with store.transaction():
        if state in (TaskState.UPSTREAM_FAILED, TaskState.SKIPPED):
            ti = store.task_instances.set_state(ti, state)
            return
        for step in (TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING):
            ti = store.task_instances.set_state(ti, step)
        ti = store.task_instances.set_state(ti, state, try_number=1,
                                       start_date=datetime.now(UTC), end_date=datetime.now(UTC))


def finish_run(store: Store, dag_id: str, run_id: str, state: DagRunState) -> None:
    run = store.runs.get(dag_id, run_id)
    assert run is not None
    with store.transaction():
        if run.state is DagRunState.QUEUED:
            run = store.runs.set_state(run, DagRunState.RUNNING, start_date=datetime.now(UTC))
        run = store.runs.set_state(run, state, end_date=datetime.now(UTC))
