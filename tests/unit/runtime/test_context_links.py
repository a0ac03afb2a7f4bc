"""A running task's ti.log_url and dag_run.get_task_instances(), as the article uses them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from millstream import DAG
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator
from millstream.runtime.context import task_log_url, webserver_base_url

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def empty_home(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILLSTREAM_HOME", str(tmp_path))
    for name in ("BASE_URL", "HOST", "PORT"):
        monkeypatch.delenv(f"MILLSTREAM__WEBSERVER__{name}", raising=False)


def test_the_link_is_the_task_page_naming_run_task_map_index_and_try() -> None:
    url = task_log_url("etl", "scheduled__2026-01-01T00:00:00+00:00", "group.load", 3, 7,
                       base_url="https://ms.example.com/")
    assert url == ("https://ms.example.com/dags/etl/task"
                   "?run_id=scheduled__2026-01-01T00%3A00%3A00%2B00%3A00&task_id=group.load"
                   "&map_index=7&try=3")


def test_the_link_quotes_every_id() -> None:
    url = task_log_url("a.b", "r?x&y=1 z", "t#1", 1, base_url="http://h")
    assert url == "http://h/dags/a.b/task?run_id=r%3Fx%26y%3D1+z&task_id=t%231&map_index=-1&try=1"
    query = parse_qs(urlsplit(url).query, strict_parsing=True)
    assert query == {"run_id": ["r?x&y=1 z"], "task_id": ["t#1"], "map_index": ["-1"],
                     "try": ["1"]}
    assert task_log_url("a/b", "r", "t", 1, base_url="http://h").startswith(
        "http://h/dags/a%2Fb/task?")


def test_the_base_url_comes_from_the_webserver_settings(monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    assert webserver_base_url() == "http://127.0.0.1:8080"
    monkeypatch.setenv("MILLSTREAM__WEBSERVER__HOST", "0.0.0.0")
    monkeypatch.setenv("MILLSTREAM__WEBSERVER__PORT", "9090")
    assert webserver_base_url() == "http://localhost:9090"
    monkeypatch.setenv("MILLSTREAM__WEBSERVER__BASE_URL", "https://ms.example.com/ui/")
    assert webserver_base_url() == "https://ms.example.com/ui"
    monkeypatch.setenv("MILLSTREAM__WEBSERVER__PORT", "not a port")
    assert webserver_base_url() == "http://localhost:8080"  # a link is not worth a crash
    assert "webserver.port" in caplog.text


def test_a_task_sees_its_log_url_and_the_runs_task_instances(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILLSTREAM__WEBSERVER__BASE_URL", "https://ms.example.com")
    seen: dict[str, Any] = {}

    def extract() -> None:
        raise ConnectionError("Database connection failed")

    def send_failure_summary(**context: Any) -> list[str]:
        dag_run = context["dag_run"]
        seen["log_url"] = context["ti"].log_url
        seen["all"] = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
        failed = [ti for ti in dag_run.get_task_instances() if ti.state == "failed"]
        seen["one"] = dag_run.get_task_instance("extract_data").state
        return [f"- {ti.task_id}: {ti.state}" for ti in failed]

    with DAG("robust_error_handling_pipeline", start_date=START, schedule=None) as dag:
        start = EmptyOperator(task_id="start")
        extract = PythonOperator(task_id="extract_data", python_callable=extract)
        alert = PythonOperator(task_id="send_failure_alert", python_callable=send_failure_summary,
                               trigger_rule="one_failed")
        start >> extract >> alert
    result = dag.test(logical_date="2026-01-05")
    assert result.xcom_pull("send_failure_alert") == ["- extract_data: failed"]
    assert seen["all"]["start"] == "success" and seen["all"]["extract_data"] == "failed"
    assert set(seen["all"]) == {"start", "extract_data", "send_failure_alert"}
    assert seen["one"] == "failed"
    assert seen["log_url"] == (
        "https://ms.example.com/dags/robust_error_handling_pipeline/task"
        "?run_id=manual__2026-01-05T00%3A00%3A00%2B00%3A00&task_id=send_failure_alert"
        "&map_index=-1&try=1")
