"""E-mails on failure and on retry (BaseOperator's email settings), received by real SMTP."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from millstream import DAG
from millstream.hooks import BaseHook
from millstream.operators.python import PythonOperator
from millstream.secrets.masking import clear_secrets
from millstream.testing import DagTestResult
from tests.integration.hooks.servers import SmtpInbox, closed_port
from tests.integration.notify.conftest import BASE_URL, MAIL_FROM

START = datetime(2026, 1, 1, tzinfo=UTC)
ERROR = "the source table is <empty> & stale"


def _boom() -> None:
    raise ValueError(ERROR)


def _run(dag: DAG) -> DagTestResult:
    return dag.test(logical_date="2026-01-05")


def _dag(callable_: object = _boom, **task_args: object) -> DAG:
    with DAG("mail_alerts", start_date=START, schedule=None) as dag:
        PythonOperator(task_id="load", python_callable=callable_, retry_delay=0, **task_args)
    return dag


def _log_url(run_id: str, try_number: int) -> str:
    return (f"{BASE_URL}/dags/mail_alerts/task?run_id={quote(run_id, safe='')}&task_id=load"
            f"&map_index=-1&try={try_number}")


def test_a_retry_then_a_failure_each_send_an_email_naming_everything(smtp: SmtpInbox) -> None:
    result = _run(_dag(email=["ops@example.com", "dba@example.com"], retries=1))
    assert result.task_states == {"load": "failed"}
    assert len(smtp.mails) == 2
    retry, failure = smtp.mails
    for mail in (retry, failure):
        assert mail.mail_from == MAIL_FROM
        assert mail.rcpt_tos == ["ops@example.com", "dba@example.com"]
        assert mail.message["To"] == "ops@example.com, dba@example.com"

    assert retry.subject == (f"millstream alert: mail_alerts.load is up for retry "
                             f"(run {result.run_id}, try 1 of 2)")
    assert failure.subject == (f"millstream alert: mail_alerts.load failed "
                               f"(run {result.run_id}, try 2 of 2)")

    text = failure.parts["text/plain"]
    for line in ("DAG: mail_alerts", "Task: load", f"Run: {result.run_id}",
                 "Logical date: 2026-01-05T00:00:00+00:00", "Try: 2 of 2", "State: failed",
                 f"Error: ValueError: {ERROR}", f"Log: {_log_url(result.run_id, 2)}"):
        assert line in text.splitlines(), line
    assert "Traceback (most recent call last)" in text and "in _boom" in text
    assert f"Log: {_log_url(result.run_id, 1)}" in retry.parts["text/plain"]

    page = failure.parts["text/html"]
    assert "the source table is &lt;empty&gt; &amp; stale" in page  # escaped, not markup
    assert ERROR not in page
    link = _log_url(result.run_id, 2).replace("&", "&amp;")
    assert f'<a href="{link}">' in page


def test_email_on_retry_false_sends_only_the_failure(smtp: SmtpInbox) -> None:
    result = _run(_dag(email="ops@example.com; dba@example.com", retries=2,
                       email_on_retry=False))
    assert result.task_states == {"load": "failed"}
    assert [m.subject.split(" (")[0] for m in smtp.mails] == [
        "millstream alert: mail_alerts.load failed"]
    assert smtp.mails[0].rcpt_tos == ["ops@example.com", "dba@example.com"]
    assert "try 3 of 3" in smtp.mails[0].subject


def test_email_on_failure_false_sends_only_the_retries(smtp: SmtpInbox) -> None:
    _run(_dag(email="ops@example.com", retries=1, email_on_failure=False))
    assert [m.subject.split(" (")[0] for m in smtp.mails] == [
        "millstream alert: mail_alerts.load is up for retry"]


def test_no_email_address_or_a_success_sends_nothing(smtp: SmtpInbox) -> None:
    assert _run(_dag(retries=1)).task_states == {"load": "failed"}
    assert _run(_dag(lambda: 1, email="ops@example.com")).task_states == {"load": "success"}
    assert smtp.mails == []


def test_default_args_ask_for_the_email_as_in_the_article(smtp: SmtpInbox) -> None:
    default_args = {"email": ["data-alerts@company.com"], "email_on_failure": True,
                    "email_on_retry": False, "retries": 0}
    with DAG("etl_sales_pipeline", start_date=START, schedule=None,
             default_args=default_args) as dag:
        PythonOperator(task_id="extract_sales_data", python_callable=_boom)
    result = dag.test(logical_date="2026-01-05")
    (mail,) = smtp.mails
    assert mail.rcpt_tos == ["data-alerts@company.com"]
    assert mail.subject.startswith("millstream alert: etl_sales_pipeline.extract_sales_data "
                                   f"failed (run {result.run_id}, try 1 of 1)")


def test_an_unreachable_mail_server_is_logged_and_changes_no_outcome(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    port = closed_port()
    monkeypatch.setenv("MILLSTREAM__SMTP__HOST", "127.0.0.1")
    monkeypatch.setenv("MILLSTREAM__SMTP__PORT", str(port))
    monkeypatch.setenv("MILLSTREAM__SMTP__STARTTLS", "false")
    with caplog.at_level(logging.ERROR, logger="millstream.task"):
        result = _run(_dag(email="ops@example.com", retries=1))
    assert result.task_states == {"load": "failed"}
    assert result.tasks[0].tries == 2
    assert result.tasks[0].error is not None and ERROR in result.tasks[0].error
    failures = [r for r in caplog.records if "alert e-mail of task load failed" in r.getMessage()]
    assert len(failures) == 2
    assert f"127.0.0.1:{port}" in str(failures[0].exc_info[1])  # type: ignore[index]


def test_starttls_required_but_not_offered_is_an_error_naming_the_server(
        smtp: SmtpInbox, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("MILLSTREAM__SMTP__STARTTLS", "true")
    with caplog.at_level(logging.ERROR, logger="millstream.task"):
        result = _run(_dag(email="ops@example.com"))
    assert result.task_states == {"load": "failed"}
    assert smtp.mails == []
    (record,) = [r for r in caplog.records if "alert e-mail" in r.getMessage()]
    assert "STARTTLS" in str(record.exc_info[1])  # type: ignore[index]


def test_secrets_the_task_fetched_are_masked_in_the_email(
        smtp: SmtpInbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILLSTREAM_CONN_SECRET_DB",
                       "postgres://etl:hunter2-secret@db.internal:5432/warehouse")

    def leaky() -> None:
        conn = BaseHook.get_connection("secret_db")
        raise RuntimeError(f"login failed with password {conn.password}")

    try:
        _run(_dag(leaky, email="ops@example.com"))
    finally:
        clear_secrets()
    (mail,) = smtp.mails
    assert "Error: RuntimeError: login failed with password ***" in mail.parts["text/plain"]
    assert all("hunter2-secret" not in text for text in mail.parts.values())
