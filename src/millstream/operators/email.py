"""EmailOperator: sends an e-mail through the SMTP server of the settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from millstream.authoring.task import BaseOperator


class EmailOperator(BaseOperator):
    """Send an HTML e-mail (``to``, ``subject``, ``html_content``, ``files`` to attach).

    Every field but the MIME settings is templated; ``html_content`` ending in
    ``.html`` is read from the DAG folder as a template. The server is the ``[smtp]``
    section of the settings; ``from_email`` defaults to its ``mail_from``.
    """

    template_fields = ("to", "from_email", "subject", "html_content", "files", "cc", "bcc")
    template_ext = (".html",)
    ui_color = "#e6faf9"

    def __init__(
        self,
        *,
        to: str | Sequence[str],
        subject: str,
        html_content: str,
        files: Sequence[str] | None = None,
        cc: str | Sequence[str] | None = None,
        bcc: str | Sequence[str] | None = None,
        mime_subtype: str = "mixed",
        mime_charset: str = "utf-8",
        from_email: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.to = to
        self.subject = subject
        self.html_content = html_content
        self.files = list(files or [])
        self.cc = cc
        self.bcc = bcc
        self.mime_subtype = mime_subtype
        self.mime_charset = mime_charset
        self.from_email = from_email

    def execute(self, context: dict[str, Any]) -> None:
        from millstream.notify.email import send_email

        send_email(
            self.to,
            self.subject,
            self.html_content,
            files=self.files,
            cc=self.cc,
            bcc=self.bcc,
            mime_subtype=self.mime_subtype,
            mime_charset=self.mime_charset,
            from_email=self.from_email,
        )
