"""SlackWebhookNotifier against a real HTTP server standing in for Slack's incoming webhook."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from millstream import DAG
from millstream.notify import SlackWebhookNotifier
from millstream.operators.python import PythonOperator
from tests.integration.hooks.servers import RecordingHttpServer
from tests.integration.notify.conftest import BASE_URL

START = datetime(2026, 1, 1, tzinfo=UTC)
HOOK_PATH = "/services/T000/B000/XXXX"


def _fails() -> None:
    raise KeyError("region <eu> & <us>")


def _run(notifier: object, retries: int = 0) -> str:
    with DAG("slack_alerts", start_date=START, schedule=None) as dag:
        PythonOperator(task_id="transform", python_callable=_fails, retries=retries,
                       retry_delay=0, on_failure_callback=notifier,
                       on_retry_callback=notifier)
    result = dag.test(logical_date="2026-01-05")
    assert result.task_states == {"transform": "failed"}
    return result.run_id


def test_the_message_names_dag_task_run_try_error_and_links_the_log(
        http_server: RecordingHttpServer) -> None:
    notifier = SlackWebhookNotifier(f"{http_server.url}{HOOK_PATH}", channel="#data-alerts",
                                    username="millstream")
    run_id = _run(notifier, retries=1)
    retry, failure = (r.json() for r in http_server.requests_to(HOOK_PATH))
    assert failure["channel"] == "#data-alerts" and failure["username"] == "millstream"
    log_url = (f"{BASE_URL}/dags/slack_alerts/task?run_id={quote(run_id, safe='')}"
               "&task_id=transform&map_index=-1&try=2")
    assert failure["text"].splitlines() == [
        ":red_circle: *Task transform failed* in DAG `slack_alerts`",
        "*DAG*: slack_alerts",
        "*Task*: transform",
        f"*Run*: {run_id}",
        "*Try*: 2 of 2",
        "*Error*: ```KeyError: 'region &lt;eu&gt; &amp; &lt;us&gt;'```",
        f"*Log*: <{log_url}|view the log>",
    ]
    assert retry["text"].startswith(":warning: *Task transform is up for retry*")
    assert "*Try*: 1 of 2" in retry["text"]


def test_a_custom_text_template(http_server: RecordingHttpServer) -> None:
    notifier = SlackWebhookNotifier(
        f"{http_server.url}{HOOK_PATH}",
        text="{{ ti.task_id }} failed (try {{ ti.try_number }}): {{ exception }}",
    )
    _run(notifier)
    (request,) = http_server.requests_to(HOOK_PATH)
    assert request.json() == {"text": "transform failed (try 1): 'region <eu> & <us>'"}


@pytest.mark.parametrize("form", ["password_url", "host_and_token", "extra"])
def test_the_webhook_from_a_connection(form: str, http_server: RecordingHttpServer,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"{http_server.url}{HOOK_PATH}"
    value = {
        "password_url": json.dumps({"conn_type": "slackwebhook", "password": url}),
        "host_and_token": (f"slackwebhook://http://:{quote('T000/B000/XXXX', safe='')}"
                           f"@127.0.0.1:{http_server.port}/services"),
        "extra": json.dumps({"conn_type": "slackwebhook", "extra": {"webhook_url": url}}),
    }[form]
    monkeypatch.setenv("MILLSTREAM_CONN_SLACK_ALERTS", value)
    _run(SlackWebhookNotifier(slack_webhook_conn_id="slack_alerts"))
    (request,) = http_server.requests_to(HOOK_PATH)
    assert "*Task*: transform" in request.json()["text"]


def test_slack_refusing_the_message_is_logged_and_changes_no_outcome(
        http_server: RecordingHttpServer, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    http_server.respond(HOOK_PATH, (400, "invalid_payload"))
    monkeypatch.setenv("MILLSTREAM_CONN_NO_TOKEN", json.dumps({"conn_type": "slackwebhook"}))
    with caplog.at_level(logging.ERROR, logger="millstream.notify"):
        _run([SlackWebhookNotifier(f"{http_server.url}{HOOK_PATH}"),
              SlackWebhookNotifier(slack_webhook_conn_id="no_token")])
    errors = [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    assert any("answered HTTP 400: invalid_payload" in e for e in errors)
    assert any("connection 'no_token' has no Slack webhook" in e for e in errors)
