"""robust_error_handling_pipeline: each scenario ends as designed, and its alerts reach a webhook.

The alerts go to a real HTTP server on 127.0.0.1, set up as the ``alerts_webhook``
connection; without that connection they are only logged.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from millstream.testing import DagTestResult
from tests.integration.examples.conftest import load_example
from tests.integration.hooks.servers import RecordingHttpServer

DAG_ID = "robust_error_handling_pipeline"
LOGICAL_DATE = "2026-03-10T06:00:00+00:00"


@pytest.fixture
def alerts(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingHttpServer]:
    server = RecordingHttpServer().start()
    monkeypatch.setenv("MILLSTREAM_CONN_ALERTS_WEBHOOK", server.url)
    try:
        yield server
    finally:
        server.stop()


def run(scenario: str) -> DagTestResult:
    return load_example(DAG_ID).test(logical_date=LOGICAL_DATE, conf={"scenario": scenario},
                                     fast_retries=True)


def tries(result: DagTestResult, label: str) -> int:
    return next(t.tries for t in result.tasks if t.label == label)


def events(server: RecordingHttpServer) -> list[str]:
    return [request.json()["event"] for request in server.requests]


def test_success_cleans_up_and_sends_no_alert(alerts: RecordingHttpServer) -> None:
    result = run("success")

    assert result.state == "success"
    assert result.task_states == {
        "start": "success", "extract_data": "success", "cleanup_resources": "success",
        "send_failure_alert": "skipped", "end": "success",
    }
    assert result.xcom_pull("extract_data") == {"records": 1000}
    assert alerts.requests == []


def test_a_temporary_failure_is_retried_then_alerted_and_fails_the_run(
    alerts: RecordingHttpServer,
) -> None:
    result = run("temporary_failure")

    assert result.state == "failed"
    assert result.task_states["extract_data"] == "failed"
    assert tries(result, "extract_data") == 4  # the first try and its 3 retries
    assert result.task_states["cleanup_resources"] == "success"
    assert result.task_states["send_failure_alert"] == "success"
    assert result.task_states["end"] == "upstream_failed"
    assert result.xcom_pull("send_failure_alert") == {"failed_tasks": ["extract_data"]}

    assert events(alerts) == ["task_retry"] * 3 + ["task_failed", "failure_digest"]
    retries = [r.json() for r in alerts.requests[:3]]
    assert [r["message"].split(":")[0] for r in retries] == [
        "Task extract_data retry 1/3", "Task extract_data retry 2/3",
        "Task extract_data retry 3/3",
    ]
    failed = alerts.requests[3].json()
    assert failed["dag_id"] == DAG_ID and failed["task_id"] == "extract_data"
    assert failed["try_number"] == 4
    assert "Exception: Database connection failed" in failed["message"]
    assert "Log URL: http" in failed["message"] and failed["log_url"]
    digest = alerts.requests[4].json()
    assert digest["message"].endswith("\n- extract_data: failed")


def test_a_data_issue_fails_at_once_without_retries(alerts: RecordingHttpServer) -> None:
    result = run("data_issue")

    assert result.state == "failed"
    assert result.task_states["extract_data"] == "failed"
    assert tries(result, "extract_data") == 1
    assert "missing required columns" in next(
        t.error for t in result.tasks if t.label == "extract_data")
    assert result.task_states["send_failure_alert"] == "success"
    assert result.task_states["end"] == "upstream_failed"
    assert events(alerts) == ["task_failed", "failure_digest"]


def test_nothing_to_process_skips_the_extract_and_the_alert(
    alerts: RecordingHttpServer,
) -> None:
    result = run("skip")

    assert result.state == "success"
    assert result.task_states == {
        "start": "success", "extract_data": "skipped", "cleanup_resources": "success",
        "send_failure_alert": "skipped", "end": "success",
    }
    assert alerts.requests == []


def test_without_the_webhook_connection_alerts_are_only_logged() -> None:
    result = run("data_issue")

    assert result.state == "failed"
    assert result.task_states["send_failure_alert"] == "success"
    assert result.xcom_pull("send_failure_alert") == {"failed_tasks": ["extract_data"]}


def test_an_unknown_scenario_is_refused_before_anything_runs() -> None:
    dag = load_example(DAG_ID)
    with pytest.raises(ValueError, match="scenario"):
        dag.test(logical_date=LOGICAL_DATE, conf={"scenario": "meteor_strike"})


def test_keeps_the_article_settings() -> None:
    dag = load_example(DAG_ID)
    extract = dag.get_task("extract_data")
    assert dag.schedule_interval == "0 6 * * *"
    assert dag.catchup is False
    assert dag.dagrun_timeout is not None and dag.dagrun_timeout.total_seconds() == 4 * 3600
    assert dag.sla_miss_callback is not None
    assert (extract.retries, extract.retry_exponential_backoff) == (3, True)
    assert extract.sla is not None and extract.sla.total_seconds() == 1800
    assert extract.execution_timeout is not None
    assert dag.get_task("cleanup_resources").trigger_rule == "all_done"
    assert dag.get_task("send_failure_alert").trigger_rule == "one_failed"
    assert dag.get_task("end").upstream_task_ids == {
        "extract_data", "cleanup_resources", "send_failure_alert"}
