"""Tasks under dag.test() read variables and connections in code and in templated fields."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from millstream import DAG
from millstream.operators.bash import BashOperator
from millstream.operators.python import PythonOperator
from millstream.secrets import Variable, get_connection


def _report(label: str, ti: Any) -> dict[str, Any]:
    conn = get_connection("my_db")
    return {
        "label": label,
        "env": Variable.get("env"),
        "limits": Variable.get("limits", deserialize_json=True),
        "missing": Variable.get("missing", default_var="fallback"),
        "login": conn.login,
    }


def _write() -> None:
    Variable.set("run_marker", "written by a task")


def _read() -> str:
    return Variable.get("run_marker")


def test_variables_and_connections_in_code_and_templates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MILLSTREAM_CONN_MY_DB", "postgres://etl:pw-0123456@db.example.com:5432/s")
    monkeypatch.setenv("MILLSTREAM_VAR_ENV", "staging")
    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text("variables:\n  limits: {batch: 50}\n")
    monkeypatch.setenv("MILLSTREAM__SECRETS__SECRETS_FILE", str(secrets_file))
    with DAG("secrets_in_tasks", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        PythonOperator(
            task_id="report", python_callable=_report,
            op_kwargs={"label": "{{ var.value.env }}@{{ conn.my_db.host }}:"
                                "{{ conn.my_db.port }}/{{ var.json.limits.batch }}"},
        )
        BashOperator(task_id="shell",
                     bash_command="echo {{ conn.my_db.schema }}-{{ var.value.get('no', 'dflt') }}")
        PythonOperator(task_id="write", python_callable=_write) >> PythonOperator(
            task_id="read", python_callable=_read)
    result = dag.test(logical_date="2026-01-01")
    assert result.state == "success", result.tasks
    assert result.xcom_pull("report") == {
        "label": "staging@db.example.com:5432/50", "env": "staging", "limits": {"batch": 50},
        "missing": "fallback", "login": "etl",
    }
    assert result.xcom_pull("shell") == "s-dflt"
    assert result.xcom_pull("read") == "written by a task"  # through the run's own store


def test_a_missing_variable_in_a_template_fails_the_task_naming_it() -> None:
    with DAG("missing_var", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        BashOperator(task_id="shell", bash_command="echo {{ var.value.not_defined }}")
    result = dag.test(logical_date="2026-01-01")
    assert result.state == "failed"
    error = result.tasks[0].error or ""
    assert error.startswith("VariableNotFound: variable 'not_defined' does not exist")
