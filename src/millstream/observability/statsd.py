"""StatsD emission: each figure as one UDP datagram, fire and forget.

While a caller holds them (:meth:`StatsdClient.held`, as the scheduler does for one round
of its loop), figures are sent together, several lines a datagram, as StatsD servers
accept, instead of one datagram each.

Names are the Prometheus family's without ``millstream_`` and unit suffixes' underscores
kept (``task_tries_finished``), after the configured prefix. Labels go, in plain StatsD,
into the name after it, in label order (``millstream.task_tries_finished.etl.load.success``);
with DogStatsD tags they go as ``|#dag:etl,task:load,state:success``.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")
_TAG_UNSAFE = re.compile(r"[,|#\s\x00]")
MAX_SHAPES = 10_000
DATAGRAM_BYTES = 1432
"""Lines are packed into datagrams up to this size (fits an Ethernet frame over IPv6)."""
_clients: weakref.WeakSet[StatsdClient] = weakref.WeakSet()


def _forget_held_lines() -> None:
    # A forked child must not send its parent's held lines a second time.
    for client in list(_clients):
        client._held = None


os.register_at_fork(after_in_child=_forget_held_lines)


class StatsdClient:
    """Sends counters, gauges and timings to one StatsD server; a send never fails a caller."""

    def __init__(self, host: str, port: int, prefix: str = "millstream",
                 datadog_tags: bool = False, constant_tags: Mapping[str, str] | None = None
                 ) -> None:
        self.host, self.port = host, port
        self.prefix = prefix.strip(".")
        self.datadog_tags = datadog_tags
        self.constant_tags = dict(constant_tags or {})
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, _, _, _, address = infos[0]
        self.address: Any = address
        self._socket = socket.socket(family, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self._held: list[str] | None = None
        # (name, kind, labels) -> the line around its value: the same few series are
        # sent over and over, and cleaning their names and tags each time adds up.
        self._shapes: dict[tuple[object, ...], tuple[str, str]] = {}
        self._lock = threading.Lock()  # other threads (standalone's) send while one holds
        _clients.add(self)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Send what is emitted inside the block in as few datagrams as fit, at its end."""
        with self._lock:
            if self._held is not None:  # nested (or another thread holds): it sends
                nested = True
            else:
                nested, self._held = False, []
        if nested:
            yield
            return
        try:
            yield
        finally:
            with self._lock:
                lines, self._held = self._held or [], None
            self._send_lines(lines)

    def _send_lines(self, lines: list[str]) -> None:
        packet: list[str] = []
        size = 0
        for line in lines:
            if packet and size + len(line) + 1 > DATAGRAM_BYTES:
                self._send_datagram("\n".join(packet))
                packet, size = [], 0
            packet.append(line)
            size += len(line) + 1
        if packet:
            self._send_datagram("\n".join(packet))

    def _send_datagram(self, text: str) -> None:
        # UDP to a server that is down, or a full socket buffer, loses the figures: metrics
        # must never slow down or fail the work they describe.
        with contextlib.suppress(OSError):
            self._socket.sendto(text.encode(), self.address)

    def incr(self, name: str, value: float = 1, labels: Mapping[str, str] | None = None) -> None:
        """Add ``value`` to a counter."""
        self._send(name, _number(value), "c", labels)

    def gauge(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Set a gauge (a negative value is sent as 0 then the delta, as StatsD needs)."""
        if value < 0:
            self._send(name, "0", "g", labels)
        self._send(name, _number(value), "g", labels)

    def timing(self, name: str, milliseconds: float,
               labels: Mapping[str, str] | None = None) -> None:
        """Record a duration, in milliseconds."""
        self._send(name, _number(milliseconds), "ms", labels)

    def line(self, name: str, value: str, kind: str,
             labels: Mapping[str, str] | None = None) -> str:
        """The datagram line for one figure."""
        key = (name, kind, tuple(labels.items()) if labels else ())
        shape = self._shapes.get(key)
        if shape is None:
            if len(self._shapes) >= MAX_SHAPES:
                self._shapes.clear()
            head, tail = self._shape(name, kind, labels).split("\0")
            shape = self._shapes[key] = (head, tail)
        return f"{shape[0]}{value}{shape[1]}"

    def _shape(self, name: str, kind: str, labels: Mapping[str, str] | None) -> str:
        value = "\0"
        parts = [self.prefix] if self.prefix else []
        parts.append(_UNSAFE.sub("_", name))
        tags = {**self.constant_tags, **(labels or {})} if self.datadog_tags else {}
        if not self.datadog_tags and labels:
            parts.extend(_UNSAFE.sub("_", str(v)) for v in labels.values())
        text = f"{'.'.join(parts)}:{value}|{kind}"
        if tags:
            text += "|#" + ",".join(f"{_TAG_UNSAFE.sub('_', k)}:{_TAG_UNSAFE.sub('_', str(v))}"
                                    for k, v in tags.items())
        return text

    def _send(self, name: str, value: str, kind: str,
              labels: Mapping[str, str] | None) -> None:
        line = self.line(name, value, kind, labels)
        with self._lock:
            held = self._held
            if held is not None:
                held.append(line)
                return
        self._send_datagram(line)

    def close(self) -> None:
        self._socket.close()


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
