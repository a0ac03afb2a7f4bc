"""EmailNotifier: an alert about a task try, a DAG run or a missed deadline, by e-mail."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

from millstream.notify.base import BaseNotifier, alert_fields, render, where
from millstream.notify.email import send_email


class EmailNotifier(BaseNotifier):
    """Sends one e-mail through the ``[smtp]`` server per notification.

    ``subject`` and ``html_content`` are Jinja templates rendered with the callback's
    context; by default the subject names what happened and where, and the body lists
    :func:`~millstream.notify.base.alert_fields`. Use as any callback, or as a deadline
    alert's ``callback``::

        DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT,
                      interval=timedelta(hours=1), callback=EmailNotifier("ops@example.com"))
    """

    def __init__(self, to: str | Iterable[str], subject: str | None = None,
                 html_content: str | None = None, *, cc: str | Iterable[str] | None = None,
                 from_email: str | None = None) -> None:
        if not to:
            raise ValueError("EmailNotifier needs at least one recipient (to)")
        self.to = to
        self.subject = subject
        self.html_content = html_content
        self.cc = cc
        self.from_email = from_email

    def message(self, context: Mapping[str, Any]) -> tuple[str, str, str]:
        """The subject, HTML body and text body for ``context``."""
        fields = alert_fields(context)
        about = where(fields)
        what = fields["reason"] or fields["state"] or "notification"
        subject = (render(self.subject, context) if self.subject is not None
                   else f"millstream alert: {about}: {what}")
        lines = [f"{name}: {value}" for name, value in fields.items() if value is not None]
        text = "\n".join(lines)
        body = (render(self.html_content, context) if self.html_content is not None
                else "<br>\n".join(html.escape(line) for line in lines))
        return subject, body, text

    def notify(self, context: Mapping[str, Any]) -> None:
        subject, body, text = self.message(context)
        send_email(self.to, subject, body, cc=self.cc, from_email=self.from_email,
                   text_content=text)

    def __repr__(self) -> str:
        return f"<EmailNotifier to {self.to!r}>"
