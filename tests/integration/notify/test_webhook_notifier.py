"""WebhookNotifier as task and DAG callbacks, received by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest

from millstream import DAG
from millstream.hooks import BaseHook
from millstream.notify import WebhookNotifier
from millstream.operators.python import PythonOperator
from millstream.secrets.masking import clear_secrets
from tests.integration.hooks.servers import RecordingHttpServer, closed_port
from tests.integration.notify.conftest import BASE_URL

START = datetime(2026, 1, 1, tzinfo=UTC)


def _flaky_then_ok(ti: Any) -> str:
    if ti.try_number == 1:
        raise ConnectionError("Database connection failed")
    return "loaded"


def _always_fails() -> None:
    raise RuntimeError("Data validation failed: missing required columns")


def test_retry_success_and_failure_callbacks_post_the_try(http_server: RecordingHttpServer
                                                          ) -> None:
    hook = WebhookNotifier(f"{http_server.url}/hooks/alerts")
    with DAG("webhook_alerts", start_date=START, schedule=None,
             default_args={"on_retry_callback": hook, "on_success_callback": hook,
                           "on_failure_callback": hook, "retry_delay": 0}) as dag:
        PythonOperator(task_id="extract", python_callable=_flaky_then_ok, retries=1)
        PythonOperator(task_id="validate", python_callable=_always_fails)
    result = dag.test(logical_date="2026-01-05")
    assert result.task_states == {"extract": "success", "validate": "failed"}

    posts = [r.json() for r in http_server.requests_to("/hooks/alerts")]
    by_event = {(p["task_id"], p["state"]): p for p in posts}
    assert sorted(by_event) == [("extract", "success"), ("extract", "up_for_retry"),
                                ("validate", "failed")]
    retry = by_event[("extract", "up_for_retry")]
    assert retry == {
        "dag_id": "webhook_alerts",
        "task_id": "extract",
        "run_id": result.run_id,
        "map_index": -1,
        "try_number": 1,
        "max_tries": 2,
        "state": "up_for_retry",
        "logical_date": "2026-01-05T00:00:00+00:00",
        "error": "ConnectionError: Database connection failed",
        "exception_type": "ConnectionError",
        "reason": None,
        "log_url": (f"{BASE_URL}/dags/webhook_alerts/task?run_id="
                    f"{quote(result.run_id, safe='')}&task_id=extract&map_index=-1&try=1"),
    }
    assert by_event[("extract", "success")]["try_number"] == 2
    assert by_event[("extract", "success")]["error"] is None
    failed = by_event[("validate", "failed")]
    assert failed["error"] == "RuntimeError: Data validation failed: missing required columns"
    assert failed["log_url"].endswith("&task_id=validate&map_index=-1&try=1")
    assert all(r.headers["content-type"] == "application/json"
               for r in http_server.requests)


def test_a_dag_failure_callback_posts_the_run_and_the_reason(http_server: RecordingHttpServer
                                                            ) -> None:
    with DAG("webhook_dag", start_date=START, schedule=None,
             on_failure_callback=WebhookNotifier(f"{http_server.url}/dag")) as dag:
        PythonOperator(task_id="only", python_callable=_always_fails)
    result = dag.test(logical_date="2026-01-05")
    (request,) = http_server.requests_to("/dag")
    body = request.json()
    assert body["dag_id"] == "webhook_dag" and body["run_id"] == result.run_id
    assert body["task_id"] is None and body["try_number"] is None
    assert body["state"] == "failed" and body["reason"]


def test_a_connection_gives_url_auth_and_headers_and_a_message_template(
        http_server: RecordingHttpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILLSTREAM_CONN_OPS_HOOK", json.dumps({
        "conn_type": "http", "host": f"{http_server.url}/api", "login": "bot",
        "password": "t0ken", "extra": {"X-Source": "millstream"},
    }))
    notifier = WebhookNotifier(
        conn_id="ops_hook", endpoint="events",
        message="{{ ti.task_id }} of {{ dag.dag_id }} failed on {{ ds }}",
        extra_payload={"severity": "page"}, headers={"X-Extra": "1"},
    )
    with DAG("webhook_conn", start_date=START, schedule=None) as dag:
        PythonOperator(task_id="load", python_callable=_always_fails,
                       on_failure_callback=notifier)
    dag.test(logical_date="2026-01-05")
    (request,) = http_server.requests_to("/api/events")
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"bot:t0ken").decode()
    assert request.headers["x-source"] == "millstream" and request.headers["x-extra"] == "1"
    body = request.json()
    assert body["message"] == "load of webhook_conn failed on 2026-01-05"
    assert body["severity"] == "page" and body["task_id"] == "load"


def test_a_failing_notifier_is_logged_and_changes_no_outcome(
        http_server: RecordingHttpServer, caplog: pytest.LogCaptureFixture) -> None:
    broken = WebhookNotifier(f"{http_server.url}/broken/s3cret-token")
    http_server.respond("/broken/s3cret-token", (500, "internal error"))
    unreachable = WebhookNotifier(f"http://127.0.0.1:{closed_port()}/hook")
    callbacks = [broken, unreachable]
    with DAG("webhook_broken", start_date=START, schedule=None,
             default_args={"on_success_callback": callbacks,
                           "on_failure_callback": callbacks}) as dag:
        PythonOperator(task_id="fine", python_callable=lambda: "ok")
        PythonOperator(task_id="bad", python_callable=_always_fails)
    with caplog.at_level(logging.ERROR, logger="millstream.notify"):
        result = dag.test(logical_date="2026-01-05")
    assert result.task_states == {"fine": "success", "bad": "failed"}
    assert result.xcom_pull("fine") == "ok"
    assert len(http_server.requests_to("/broken/s3cret-token")) == 2
    messages = [r.getMessage() + str(r.exc_info[1] if r.exc_info else "")
                for r in caplog.records]
    assert sum("WebhookNotifier could not notify about webhook_broken.fine" in m
               for m in messages) == 2
    assert any("answered HTTP 500" in m for m in messages)
    assert any("failed: ConnectError" in m for m in messages)
    assert not any("s3cret-token" in m for m in messages)  # paths may hold tokens


def test_secrets_the_task_fetched_are_masked_in_the_alert(
        http_server: RecordingHttpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILLSTREAM_CONN_SECRET_DB",
                       "postgres://etl:hunter2-secret@db.internal:5432/warehouse")

    def leaky() -> None:
        conn = BaseHook.get_connection("secret_db")
        raise RuntimeError(f"login failed with password {conn.password}")

    with DAG("webhook_masked", start_date=START, schedule=None) as dag:
        PythonOperator(task_id="connect", python_callable=leaky,
                       on_failure_callback=WebhookNotifier(
                           f"{http_server.url}/masked", message="{{ exception }}"))
    try:
        dag.test(logical_date="2026-01-05")
    finally:
        clear_secrets()
    (request,) = http_server.requests_to("/masked")
    assert b"hunter2-secret" not in request.body
    body = request.json()
    assert body["error"] == "RuntimeError: login failed with password ***"
    assert body["message"] == "login failed with password ***"


def test_a_notifier_needs_exactly_one_destination() -> None:
    with pytest.raises(ValueError, match="exactly one of url or conn_id"):
        WebhookNotifier()
    with pytest.raises(ValueError, match="exactly one of url or conn_id"):
        WebhookNotifier("http://x", conn_id="y")
