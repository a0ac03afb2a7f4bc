"""What alerts say: the fields of a try's context, e-mail subject and body, Slack text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from millstream import DAG
from millstream.notify.base import BaseNotifier, alert_fields
from millstream.notify.email import address_list, alert_wanted, build_message, task_alert_message
from millstream.notify.slack import default_text, webhook_url_from_connection
from millstream.operators.python import PythonOperator
from millstream.secrets import Connection

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def base_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILLSTREAM_HOME", str(tmp_path))
    monkeypatch.setenv("MILLSTREAM__WEBSERVER__BASE_URL", "https://ms.example.com")


def _failure_context(map_index: bool = False) -> dict[str, Any]:
    """The context a real failure callback receives (try 1 of 3 of a failing task)."""
    seen: list[dict[str, Any]] = []

    def fail(x: int = 0) -> None:
        raise ValueError(f"bad row {x}")

    with DAG("alerts", start_date=START, schedule=None) as dag:
        if map_index:
            PythonOperator.partial(task_id="load", python_callable=fail,
                                   on_retry_callback=seen.append, retries=2,
                                   retry_delay=0).expand(op_args=[[5]])
        else:
            PythonOperator(task_id="load", python_callable=fail, retries=2, retry_delay=0,
                           on_retry_callback=seen.append)
    dag.test(logical_date="2026-01-05")
    return seen[0]


def test_alert_fields_of_a_retried_try() -> None:
    fields = alert_fields(_failure_context())
    assert fields == {
        "dag_id": "alerts", "task_id": "load", "run_id": "manual__2026-01-05T00:00:00+00:00",
        "map_index": -1, "try_number": 1, "max_tries": 3, "state": "up_for_retry",
        "logical_date": "2026-01-05T00:00:00+00:00", "error": "ValueError: bad row 0",
        "exception_type": "ValueError", "reason": None,
        "log_url": "https://ms.example.com/dags/alerts/task"
                   "?run_id=manual__2026-01-05T00%3A00%3A00%2B00%3A00&task_id=load"
                   "&map_index=-1&try=1",
    }


def test_alert_fields_of_a_dag_callback_context() -> None:
    with DAG("alerts", start_date=START, schedule=None) as dag:
        pass
    fields = alert_fields({"dag": dag, "run_id": "r1", "reason": "task_failure",
                           "logical_date": START})
    assert (fields["dag_id"], fields["run_id"], fields["reason"]) == ("alerts", "r1",
                                                                      "task_failure")
    assert fields["task_id"] is None and fields["log_url"] is None and fields["error"] is None


def test_email_subject_and_bodies_for_a_mapped_instance() -> None:
    subject, text, html = task_alert_message(_failure_context(map_index=True))
    assert subject == ("millstream alert: alerts.load[0] is up for retry "
                       "(run manual__2026-01-05T00:00:00+00:00, try 1 of 3)")
    assert "Task: load[0]" in text.splitlines()
    assert "Error: ValueError: bad row 5" in text.splitlines()
    assert "map_index=0" in text
    assert "<th align='left'>Error</th><td>ValueError: bad row 5</td>" in html


def test_slack_text_for_task_and_dag_alerts() -> None:
    text = default_text(alert_fields(_failure_context(map_index=True)))
    assert text.splitlines()[0] == ":warning: *Task load[0] is up for retry* in DAG `alerts`"
    assert "*Try*: 1 of 3" in text
    dag_text = default_text({"dag_id": "alerts", "task_id": None, "run_id": "r<1>",
                             "state": "failed", "reason": "deadlock", "map_index": None})
    assert dag_text.splitlines() == [":red_circle: *DAG run failed* in DAG `alerts`",
                                     "*DAG*: alerts", "*Run*: r&lt;1&gt;",
                                     "*Reason*: deadlock"]


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({"extra": {"webhook_url": "https://x.example/h"}}, "https://x.example/h"),
        ({"password": "https://hooks.slack.com/services/T/B/X"},
         "https://hooks.slack.com/services/T/B/X"),
        ({"password": "T/B/X"}, "https://hooks.slack.com/services/T/B/X"),
        ({"password": "/T/B/X", "host": "slack.internal", "port": 8443, "schema": "hooks"},
         "https://slack.internal:8443/hooks/T/B/X"),
    ],
)
def test_slack_webhook_url_from_a_connection(fields: dict[str, Any], url: str) -> None:
    assert webhook_url_from_connection(Connection("s", conn_type="slackwebhook", **fields)) == url


def test_addresses_and_which_states_want_an_email() -> None:
    assert address_list("a@x.com, b@x.com;c@x.com ") == ["a@x.com", "b@x.com", "c@x.com"]
    assert address_list(["a@x.com", "b@x.com; c@x.com"]) == ["a@x.com", "b@x.com", "c@x.com"]
    assert address_list(None) == []
    with pytest.raises(ValueError, match="must be a string"):
        address_list(["a@x.com", 3])  # type: ignore[list-item]
    with DAG("d", start_date=START, schedule=None):
        task = PythonOperator(task_id="t", python_callable=print, email="a@x.com",
                              email_on_retry=False)
        silent = PythonOperator(task_id="s", python_callable=print)
    assert alert_wanted(task, "failed") and not alert_wanted(task, "up_for_retry")
    assert not alert_wanted(task, "success") and not alert_wanted(silent, "failed")


def test_build_message_headers_and_parts() -> None:
    message = build_message(["a@x.com", "b@x.com"], "Subject é", "<b>hi</b>",
                            from_email="me@x.com", text_content="hi", cc="c@x.com")
    assert message["To"] == "a@x.com, b@x.com" and message["Cc"] == "c@x.com"
    assert message["Message-ID"].endswith("@x.com>")
    types = [part.get_content_type() for part in message.walk()]
    assert types == ["multipart/mixed", "multipart/alternative", "text/plain", "text/html"]
    assert "=?utf-8?" in message.as_string().split("Subject: ")[1].splitlines()[0]


def test_a_notifier_that_raises_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(BaseNotifier):
        def notify(self, context: Any) -> None:
            raise RuntimeError("down")

    Broken()(_failure_context())
    Broken()({"odd": "context"})
    assert "Broken could not notify about alerts.load (run manual__" in caplog.text
    assert "RuntimeError: down" in caplog.text
