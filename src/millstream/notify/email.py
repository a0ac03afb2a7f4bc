"""E-mail through the SMTP server of the settings, and the failure / retry e-mails of tasks."""

from __future__ import annotations

import html
import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Iterable, Mapping
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from millstream.notify.base import NotificationError, alert_fields, error_traceback

if TYPE_CHECKING:
    from millstream.config import SmtpSettings

log = logging.getLogger("millstream.notify")


def address_list(addresses: str | Iterable[str] | None) -> list[str]:
    """Addresses from a list, or from one string separated by commas or semicolons."""
    if not addresses:
        return []
    items = [addresses] if isinstance(addresses, str) else list(addresses)
    found: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"an e-mail address must be a string, got {item!r}")
        found.extend(part.strip() for part in re.split(r"[,;]", item) if part.strip())
    return found


def build_message(
    to: str | Iterable[str],
    subject: str,
    html_content: str,
    *,
    from_email: str,
    text_content: str | None = None,
    files: Iterable[str | Path] | None = None,
    cc: str | Iterable[str] | None = None,
    mime_subtype: str = "mixed",
    mime_charset: str = "utf-8",
) -> MIMEMultipart:
    """A MIME message: the HTML body (with a plain-text alternative if given), then files."""
    message = MIMEMultipart(mime_subtype)
    message["Subject"] = subject
    message["From"] = from_email
    message["To"] = ", ".join(address_list(to))
    if cc:
        message["Cc"] = ", ".join(address_list(cc))
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=from_email.rpartition("@")[2] or None)
    if text_content is not None:
        body = MIMEMultipart("alternative")
        body.attach(MIMEText(text_content, "plain", mime_charset))
        body.attach(MIMEText(html_content, "html", mime_charset))
        message.attach(body)
    else:
        message.attach(MIMEText(html_content, "html", mime_charset))
    for name in files or ():
        path = Path(name)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise NotificationError(f"cannot attach {path} to the e-mail: {exc}") from None
        part = MIMEApplication(data, Name=path.name)
        part["Content-Disposition"] = f'attachment; filename="{path.name}"'
        message.attach(part)
    return message


def send_email(
    to: str | Iterable[str],
    subject: str,
    html_content: str,
    files: Iterable[str | Path] | None = None,
    cc: str | Iterable[str] | None = None,
    bcc: str | Iterable[str] | None = None,
    mime_subtype: str = "mixed",
    mime_charset: str = "utf-8",
    from_email: str | None = None,
    text_content: str | None = None,
    smtp: SmtpSettings | None = None,
) -> list[str]:
    """Send one e-mail through the ``[smtp]`` server of the settings (or ``smtp``).

    Returns the recipients (to, cc and bcc). Raises :class:`NotificationError` naming
    the server if it cannot be reached or refuses the message.
    """
    if smtp is None:
        from millstream.config import load_settings

        smtp = load_settings().smtp
    recipients = address_list(to) + address_list(cc) + address_list(bcc)
    if not recipients:
        raise NotificationError(f"e-mail {subject!r} has no recipients")
    sender = from_email or smtp.mail_from
    message = build_message(to, subject, html_content, from_email=sender,
                            text_content=text_content, files=files, cc=cc,
                            mime_subtype=mime_subtype, mime_charset=mime_charset)
    server_name = f"{smtp.host}:{smtp.port}"
    try:
        client_class = smtplib.SMTP_SSL if smtp.ssl else smtplib.SMTP
        with client_class(smtp.host, smtp.port, timeout=smtp.timeout) as client:
            if smtp.starttls and not smtp.ssl:
                client.starttls(context=ssl.create_default_context())
            if smtp.user:
                password = smtp.password.get_secret_value() if smtp.password else ""
                client.login(smtp.user, password)
            client.sendmail(sender, recipients, message.as_string())
    except (smtplib.SMTPException, OSError) as exc:
        raise NotificationError(
            f"cannot send e-mail {subject!r} through SMTP server {server_name}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    log.info("Sent e-mail %r to %s through %s", subject, ", ".join(recipients), server_name)
    return recipients


# -- the alerts of BaseOperator's email / email_on_failure / email_on_retry --------------------
def alert_wanted(task: Any, state: str) -> bool:
    """Whether ``task``'s e-mail settings ask for an e-mail when a try ends in ``state``."""
    if not getattr(task, "email", None):
        return False
    if state == "failed":
        return bool(getattr(task, "email_on_failure", False))
    if state == "up_for_retry":
        return bool(getattr(task, "email_on_retry", False))
    return False


def task_alert_message(context: Mapping[str, Any]) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the e-mail about a failed or retried try."""
    fields = alert_fields(context)
    retry = fields["state"] == "up_for_retry"
    outcome = "is up for retry" if retry else "failed"
    task = fields["task_id"]
    if fields["map_index"] is not None and fields["map_index"] >= 0:
        task = f"{task}[{fields['map_index']}]"
    tries = f"{fields['try_number']} of {fields['max_tries']}"
    subject = (f"millstream alert: {fields['dag_id']}.{task} {outcome} "
               f"(run {fields['run_id']}, try {tries})")
    rows = [
        ("DAG", fields["dag_id"]),
        ("Task", task),
        ("Run", fields["run_id"]),
        ("Logical date", fields["logical_date"]),
        ("Try", tries),
        ("State", fields["state"]),
        ("Error", fields["error"] or "(no exception was recorded)"),
        ("Log", fields["log_url"]),
        ("Host", socket.gethostname()),
    ]
    trace = error_traceback(context)
    text = "\n".join(f"{name}: {value}" for name, value in rows)
    if trace:
        text += f"\n\n{trace}\n"
    cells = []
    for name, value in rows:
        shown = html.escape(str(value))
        if name == "Log" and value:
            shown = f'<a href="{html.escape(str(value), quote=True)}">{shown}</a>'
        cells.append(f"<tr><th align='left'>{name}</th><td>{shown}</td></tr>")
    body = f"<p>{html.escape(subject)}</p><table>{''.join(cells)}</table>"
    if trace:
        body += f"<pre>{html.escape(trace)}</pre>"
    return subject, text, body


def send_task_alert_email(context: Mapping[str, Any]) -> bool:
    """Send the failure or retry e-mail of the context's try if its task asks for one.

    Returns whether an e-mail was sent; delivery errors raise :class:`NotificationError`.
    """
    task = context.get("task")
    ti = context.get("ti")
    state = str(getattr(ti, "state", ""))
    if not alert_wanted(task, state):
        return False
    subject, text, body = task_alert_message(context)
    send_email(getattr(task, "email", None) or [], subject, body, text_content=text)
    return True


__all__ = [
    "address_list",
    "alert_wanted",
    "build_message",
    "send_email",
    "send_task_alert_email",
    "task_alert_message",
]
