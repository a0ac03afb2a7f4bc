"""The setting reaches every process that loads DAG files: the scheduler's parsing workers, the
fork server and its tries, DAG callback processes; and the article's own pytest file runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from millstream.compat import airflow as airflow_compat
from millstream.executors.callback_processes import ForkedCallbackRunner
from millstream.executors.local import LocalExecutor
from millstream.model.states import DagRunState, TaskState
from millstream.parsing import load_dag_file
from millstream.parsing.processor import parse_files
from millstream.parsing.serialize import DagStructure
from millstream.store.memory import MemoryStore
from millstream.store.records import DagRunRecord
from millstream.store.sql.migrate import migrate
from tests.integration.compat.conftest import (
    AIRFLOW_DAGS,
    ARTICLE_TESTS,
    LOADABLE_DAG_IDS,
    copy_all,
    copy_article_dags,
)
from tests.integration.engine.engine_helpers import Home, wait_for
from tests.integration.hooks.servers import closed_port

PROBE = """
from datetime import datetime
from airflow import DAG
from airflow.operators.python import PythonOperator


def probe(**context):
    # imported while the try runs, in a process forked from the fork server
    from airflow.exceptions import AirflowSkipException

    raise AirflowSkipException("the try could import airflow.exceptions")


def on_success(context):
    from airflow.models import Variable

    with open(Variable.get("callback_file"), "w") as handle:
        handle.write(context["dag_run"].run_id)


with DAG("compat_probe", schedule=None, start_date=datetime(2026, 1, 1),
         on_success_callback=on_success) as dag:
    PythonOperator(task_id="probe", python_callable=probe)
"""


# -- parsing workers ------------------------------------------------------------------------
def test_parsing_workers_load_airflow_files_only_when_the_setting_is_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = [AIRFLOW_DAGS / "conditional_pipeline.py", AIRFLOW_DAGS / "robust_error_handling.py"]

    report = parse_files(files)
    assert not report.dags
    for error in report.import_errors.values():
        assert "No module named 'airflow'" in error.error
        assert "set compat.airflow = true" in error.error

    monkeypatch.setenv(airflow_compat.ENV_VAR, "true")
    report = parse_files(files)
    assert not report.import_errors
    assert {dag["dag_id"] for dag in report.dags} == {
        "conditional_processing_pipeline", "robust_error_handling_pipeline"}


# -- DAG callbacks, in processes of their own -------------------------------------------------
def test_a_dag_callback_process_loads_the_airflow_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "compat_probe.py"
    path.write_text(textwrap.dedent(PROBE))
    written = tmp_path / "callback.txt"
    monkeypatch.setenv("MILLSTREAM_VAR_CALLBACK_FILE", str(written))
    monkeypatch.setenv(airflow_compat.ENV_VAR, "true")
    structure = DagStructure.from_dag(load_dag_file(path)["compat_probe"])
    airflow_compat.disable()  # the callback's zygote must turn it on by itself
    now = datetime.now(UTC)
    run = DagRunRecord("compat_probe", "manual__probe", now, now, now,
                       state=DagRunState.SUCCESS)

    with LocalExecutor(1, tmp_path / "logs", lambda: MemoryStore().xcoms) as executor:
        runner = ForkedCallbackRunner(executor, timeout_s=120)
        runner.dag_run_finished(structure, run, True, "success")
        runner.close(wait_s=120)

    assert written.read_text() == "manual__probe"


# -- the scheduler, with --airflow-compat after the command -------------------------------------
@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    path = tmp_path / "millstream-home"
    (path / "dags").mkdir(parents=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    url = f"sqlite:///{path / 'millstream.db'}"
    migrate(url)
    home = Home(path, url, scratch)
    try:
        yield home
    finally:
        home.close()


def test_the_scheduler_loads_and_runs_the_article_dags(home: Home) -> None:
    # The guide's health check is on the internet; here it is a port nothing listens on.
    copy_all(home.dags, api_url=f"http://127.0.0.1:{closed_port()}/health")
    home.write_dag("compat_probe.py", PROBE)
    home.settings_env["MILLSTREAM_VAR_CALLBACK_FILE"] = str(home.scratch / "callback.txt")
    scheduler = home.start("scheduler", "--airflow-compat")
    expected = LOADABLE_DAG_IDS | {"compat_probe"}
    wait_for(lambda: all(home.parsed(d) for d in expected), 90, "the DAG files to be parsed",
             scheduler.tail)

    listed = json.loads(home.cli("dags", "list", "--airflow-compat", "--json").stdout)
    assert {row["dag_id"] for row in listed} == expected
    errors = json.loads(home.cli("dags", "list-import-errors", "--json").stdout)
    assert [Path(e["filename"]).name for e in errors] == ["parallel_processing_dag.py"]
    assert "'list' and 'list'" in errors[0]["traceback"]

    conditional = home.trigger_with_cli("conditional_processing_pipeline")
    probe = home.trigger_with_cli("compat_probe")
    for dag_id, run_id in (("conditional_processing_pipeline", conditional),
                           ("compat_probe", probe)):
        run = wait_for(lambda d=dag_id, r=run_id: home.finished_run(d, r), 90,
                       f"the manual run of {dag_id}",
                       lambda d=dag_id: home.describe(d) + "\n" + scheduler.tail())
        assert run.state is DagRunState.SUCCESS, home.describe(dag_id)
    assert home.instance("compat_probe", probe, "probe").state is TaskState.SKIPPED
    states = {label: ti.state for label, ti in
              home.instances("conditional_processing_pipeline", conditional).items()}
    assert states["finalize"] is TaskState.SUCCESS
    assert sorted(s.value for label, s in states.items() if label.startswith("process_")) == [
        "skipped", "skipped", "success"]
    callback = home.scratch / "callback.txt"
    wait_for(callback.exists, 60, "the DAG success callback", scheduler.tail)
    assert callback.read_text() == probe


def test_the_cli_refuses_when_a_real_airflow_is_importable(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "airflow").mkdir(parents=True)
    (site / "airflow" / "__init__.py").write_text("# stands in for Apache Airflow\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-m", "millstream.cli.main", "--airflow-compat", "version"],
        env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "the real Apache Airflow is installed in this environment" in result.stderr
    assert str(site / "airflow" / "__init__.py") in result.stderr
    assert "turn compat.airflow off" in result.stderr


# -- the article's own tests ------------------------------------------------------------------
CONFTEST = """
import millstream.compat.airflow

millstream.compat.airflow.enable()
"""


def test_the_articles_pytest_file_passes_in_its_project_layout(tmp_path: Path) -> None:
    project = tmp_path / "project"
    dags = copy_article_dags(project / "dags", [
        "etl_pipeline.py", "conditional_pipeline.py", "event_driven_pipeline.py",
        "robust_error_handling.py", "pipeline_with_metrics.py", "idempotent_tasks.py",
        "common/config.py"])
    (dags / "__init__.py").write_text("")
    (dags / "common" / "__init__.py").write_text("")
    (project / "tests").mkdir()
    (project / "tests" / "__init__.py").write_text("")
    (project / "tests" / "test_etl_pipeline.py").write_text(
        (ARTICLE_TESTS / "test_etl_pipeline.py").read_text())
    (project / "conftest.py").write_text(CONFTEST)

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_etl_pipeline.py", "-q",
         "-p", "no:cacheprovider"],
        cwd=project, capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 passed" in result.stdout
