"""EmailOperator and send_email against a real SMTP server: templates, files, cc, bcc, login."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from millstream import DAG
from millstream.config import SmtpSettings
from millstream.notify import NotificationError, send_email
from millstream.operators.email import EmailOperator
from tests.integration.hooks.servers import SmtpInbox, closed_port
from tests.integration.notify.conftest import MAIL_FROM, start_smtp

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_email_operator_renders_its_fields_and_attaches_files(smtp: SmtpInbox,
                                                              tmp_path: Path) -> None:
    report = tmp_path / "report_20260105.csv"
    report.write_text("region,total\neu,10\n")
    (tmp_path / "summary.html").write_text("<h1>Sales for {{ ds }}</h1>")
    with DAG("mailer", start_date=START, schedule=None,
             template_searchpath=[str(tmp_path)]) as dag:
        EmailOperator(
            task_id="send_report",
            to="{{ params.team }}@example.com",
            cc=["lead@example.com"],
            bcc="audit@example.com",
            subject="Sales report {{ ds }}",
            html_content="summary.html",
            files=[str(tmp_path / "report_{{ ds_nodash }}.csv")],
            params={"team": "sales"},
        )
    result = dag.test(logical_date="2026-01-05")
    assert result.task_states == {"send_report": "success"}
    (mail,) = smtp.mails
    assert mail.subject == "Sales report 2026-01-05"
    assert mail.mail_from == MAIL_FROM
    assert mail.rcpt_tos == ["sales@example.com", "lead@example.com", "audit@example.com"]
    assert mail.message["To"] == "sales@example.com"
    assert mail.message["Cc"] == "lead@example.com"
    assert mail.message["Bcc"] is None  # blind copies are envelope recipients only
    assert mail.parts["text/html"] == "<h1>Sales for 2026-01-05</h1>"
    assert mail.attachments == {"report_20260105.csv": b"region,total\neu,10\n"}


def test_a_missing_attachment_fails_the_task_naming_the_file(smtp: SmtpInbox,
                                                             tmp_path: Path) -> None:
    with DAG("mailer", start_date=START, schedule=None) as dag:
        EmailOperator(task_id="send", to="a@example.com", subject="s", html_content="<p>x</p>",
                      files=[str(tmp_path / "nope.csv")])
    result = dag.test(logical_date="2026-01-05")
    assert result.task_states == {"send": "failed"}
    assert "cannot attach" in (result.tasks[0].error or "")
    assert "nope.csv" in (result.tasks[0].error or "")
    assert smtp.mails == []


def test_send_email_logs_in_with_the_configured_user() -> None:
    inbox = SmtpInbox()
    seen: list[tuple[bytes, bytes]] = []

    def authenticator(server: object, session: object, envelope: object, mechanism: str,
                      auth_data: LoginPassword) -> AuthResult:
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"p4ss word", handled=False)

    controller = start_smtp(inbox, authenticator=authenticator, auth_require_tls=False)
    try:
        fields = {"host": "127.0.0.1", "port": controller.port, "starttls": False,
                  "user": "mailer", "mail_from": "me@example.com", "timeout": 10}
        good = SmtpSettings(**fields, password="p4ss word")
        assert send_email("you@example.com", "hello", "<p>hi</p>", smtp=good,
                          text_content="hi") == ["you@example.com"]
        bad = SmtpSettings(**fields, password="wrong")
        with pytest.raises(NotificationError, match=r"through SMTP server 127\.0\.0\.1:\d+.*"
                                                    r"SMTPAuthenticationError"):
            send_email("you@example.com", "hello again", "<p>hi</p>", smtp=bad)
    finally:
        controller.stop()
    assert seen[0] == (b"mailer", b"p4ss word")
    (mail,) = inbox.mails
    assert mail.mail_from == "me@example.com"
    assert mail.parts == {"text/plain": "hi", "text/html": "<p>hi</p>"}


def test_send_email_errors_name_the_server_or_the_missing_recipients() -> None:
    port = closed_port()
    settings = SmtpSettings(host="127.0.0.1", port=port, starttls=False, timeout=5)
    with pytest.raises(NotificationError, match=rf"SMTP server 127\.0\.0\.1:{port}"):
        send_email("a@example.com", "s", "<p>x</p>", smtp=settings)
    with pytest.raises(NotificationError, match="has no recipients"):
        send_email(" ; ", "s", "<p>x</p>", smtp=settings)
