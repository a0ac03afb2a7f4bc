"""Fixtures for observability tests: settings with [metrics] and [tracing] values, applied
to this process (tests/conftest.py puts the defaults back after each test)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from millstream import observability
from millstream.config import Settings, load_settings


@pytest.fixture
def observe(tmp_path: Path) -> Callable[..., Settings]:
    """``observe(metrics__statsd_port=...)``: load such settings and configure with them."""

    def apply(**values: object) -> Settings:
        environ = {f"MILLSTREAM__{name.split('__')[0].upper()}__{name.split('__')[1].upper()}":
                   str(value) for name, value in values.items()}
        settings = load_settings(tmp_path / "home", environ)
        observability.configure(settings)
        return settings

    return apply


class UdpListener:
    """A real UDP socket on a free local port, collecting what StatsD clients send."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port: int = self.socket.getsockname()[1]

    def received(self, quiet_s: float = 0.5) -> list[str]:
        """Every datagram until none has come for ``quiet_s`` (UDP may reorder nothing
        locally, but all have been sent before this is called)."""
        lines: list[str] = []
        self.socket.settimeout(quiet_s)
        while True:
            try:
                data = self.socket.recv(65535)
            except TimeoutError:
                return lines
            lines.extend(data.decode().splitlines())


@pytest.fixture
def udp_listener() -> Iterator[UdpListener]:
    listener = UdpListener()
    try:
        yield listener
    finally:
        listener.socket.close()
