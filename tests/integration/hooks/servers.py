"""Real servers for hook and notification tests: a recording HTTP server and an SMTP inbox.

Both listen on 127.0.0.1 in threads of the test process and keep what they received.
"""

from __future__ import annotations

import email
import json
import socket
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class HttpRequest:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RecordingHttpServer:
    """Answers each path from a script of (status, body) answers and records every request.

    ``respond(path, a, b, c)`` answers a, then b, then c for every later request.
    Unscripted paths answer 200 with ``{"ok": true}``.
    """

    def __init__(self) -> None:
        self.requests: list[HttpRequest] = []
        self._answers: dict[str, list[tuple[int, str]]] = {}
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                status, text = recorder._record(HttpRequest(
                    self.command, parts.path, parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()}, body,
                ))
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def respond(self, path: str, *answers: tuple[int, str]) -> None:
        with self._lock:
            self._answers[path] = list(answers)

    def requests_to(self, path: str) -> list[HttpRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _record(self, request: HttpRequest) -> tuple[int, str]:
        with self._lock:
            self.requests.append(request)
            answers = self._answers.get(request.path)
            if not answers:
                return 200, '{"ok": true}'
            return answers.pop(0) if len(answers) > 1 else answers[0]

    def start(self) -> RecordingHttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mail:
    """One e-mail the SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: Message
    parts: dict[str, str] = field(default_factory=dict)  # content type -> decoded text

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def attachments(self) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for part in self.message.walk():
            name = part.get_filename()
            if name:
                found[name] = part.get_payload(decode=True)  # type: ignore[assignment]
        return found


class SmtpInbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content)
        parts: dict[str, str] = {}
        for part in message.walk():
            if part.get_content_maintype() == "text" and not part.get_filename():
                payload = part.get_payload(decode=True)
                parts[part.get_content_type()] = payload.decode(  # type: ignore[union-attr]
                    part.get_content_charset() or "utf-8")
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message, parts))
        return "250 Message accepted for delivery"
