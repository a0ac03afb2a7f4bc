"""Airflow 3's authoring surface through the compatibility layer: setup/teardown, labels,
task kinds, branching operators, and the one-line error of what stays unsupported."""

from __future__ import annotations

from pathlib import Path

import pytest

from millstream.compat import airflow as airflow_compat
from millstream.parsing import DagImportError, load_dag_file

AUTHORING_FILE = '''
from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.latest_only import LatestOnlyOperator
from airflow.providers.standard.operators.weekday import BranchDayOfWeekOperator
from airflow.providers.standard.utils.weekday import WeekDay
from airflow.sdk import DAG, Label, chain_linear, setup, task, teardown

with DAG("authoring", start_date=datetime(2026, 1, 1), schedule=None) as dag:
    @setup
    def create():
        return "resource"

    @teardown
    def delete(resource):
        print("deleting", resource)

    @task.bash
    def work(resource):
        return f"echo using {resource}"

    with delete(create()):
        done = work("r")

    branch = BranchDayOfWeekOperator(
        task_id="branch", follow_task_ids_if_true="weekend", follow_task_ids_if_false="weekday",
        week_day={WeekDay.SATURDAY, WeekDay.SUNDAY}, use_task_logical_date=True,
    )
    done >> LatestOnlyOperator(task_id="latest") >> branch
    branch >> Label("Mon-Fri") >> EmptyOperator(task_id="weekday")
    branch >> Label("Sat-Sun") >> EmptyOperator(task_id="weekend")
    chain_linear([dag.task_dict["weekday"], dag.task_dict["weekend"]],
                 BashOperator(task_id="end", bash_command="echo end",
                              trigger_rule="none_failed_min_one_success"))
'''


def test_an_airflow_file_using_the_authoring_surface_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "authoring.py"
    path.write_text(AUTHORING_FILE)
    monkeypatch.setenv(airflow_compat.ENV_VAR, "true")
    dag = load_dag_file(path)["authoring"]
    assert dag.edge_info[("branch", "weekday")] == {"label": "Mon-Fri"}
    result = dag.test(logical_date="2026-01-03")  # a Saturday
    assert result.state == "success"
    assert result.task_states == {
        "create": "success", "work": "success", "delete": "success", "latest": "success",
        "branch": "success", "weekday": "skipped", "weekend": "success", "end": "success",
    }
    assert result.xcom_pull("work") == "using r"


def test_an_unsupported_provider_import_is_a_one_line_error_naming_file_line_and_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "pod.py"
    path.write_text("from airflow.sdk import DAG\n"
                    "from airflow.providers.cncf.kubernetes.operators.pod import "
                    "KubernetesPodOperator\n")
    monkeypatch.setenv(airflow_compat.ENV_VAR, "true")
    with pytest.raises(DagImportError) as caught:
        load_dag_file(path)
    summary = caught.value.summary
    assert "\n" not in summary.strip()
    assert summary.startswith(f"{path}, line 2: ImportError: ")
    assert "does not support the Kubernetes provider" in summary
    assert "a BashOperator or PythonOperator that starts the workload" in summary  # instead


def test_any_unsupported_import_names_the_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "future.py"
    path.write_text("from airflow.sdk import DAG\n\n"
                    "from airflow.providers.standard.operators.python import NotAnOperator\n")
    monkeypatch.setenv(airflow_compat.ENV_VAR, "true")
    with pytest.raises(DagImportError) as caught:
        load_dag_file(path)
    summary = caught.value.summary
    assert summary.startswith(f"{path}, line 3: ImportError: ")
    assert "millstream's Airflow compatibility does not support NotAnOperator" in summary
    assert "ExternalPythonOperator" in summary  # what the module does provide
