"""Fixtures of the notification tests: an SMTP server (aiosmtpd), an HTTP receiver, settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.integration.hooks.servers import RecordingHttpServer, SmtpInbox, closed_port

BASE_URL = "https://millstream.example.com"
MAIL_FROM = "alerts@millstream.example.com"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings from an empty home, with the web UI's address for log links."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("MILLSTREAM_HOME", str(home))
    monkeypatch.setenv("MILLSTREAM__WEBSERVER__BASE_URL", BASE_URL + "/")
    return home


def start_smtp(inbox: SmtpInbox, **options: object) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=closed_port(), **options)
    controller.start()
    return controller


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpInbox]:
    """A real SMTP server on 127.0.0.1 that the [smtp] settings point at."""
    inbox = SmtpInbox()
    controller = start_smtp(inbox)
    monkeypatch.setenv("MILLSTREAM__SMTP__HOST", "127.0.0.1")
    monkeypatch.setenv("MILLSTREAM__SMTP__PORT", str(controller.port))
    monkeypatch.setenv("MILLSTREAM__SMTP__STARTTLS", "false")
    monkeypatch.setenv("MILLSTREAM__SMTP__MAIL_FROM", MAIL_FROM)
    yield inbox
    controller.stop()


@pytest.fixture
def http_server() -> Iterator[RecordingHttpServer]:
    server = RecordingHttpServer().start()
    yield server
    server.stop()
