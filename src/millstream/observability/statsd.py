"""StatsD emission: each figure as one UDP datagram, fire and forget.

Names are the Prometheus family's without ``millstream_`` and unit suffixes' underscores
kept (``task_tries_finished``), after the configured prefix. Labels go, in plain StatsD,
into the name after it, in label order (``millstream.task_tries_finished.etl.load.success``);
with DogStatsD tags they go as ``|#dag:etl,task:load,state:success``.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Mapping
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")
_TAG_UNSAFE = re.compile(r"[,|#\s]")


class StatsdClient:
    """Sends counters, gauges and timings to one StatsD server; a send never fails a caller."""

    def __init__(self, host: str, port: int, prefix: str = "millstream",
                 datadog_tags: bool = False, constant_tags: Mapping[str, str] | None = None
                 ) -> None:
        self.prefix = prefix.strip(".")
        self.datadog_tags = datadog_tags
        self.constant_tags = dict(constant_tags or {})
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, _, _, _, address = infos[0]
        self.address: Any = address
        self._socket = socket.socket(family, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

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
        """The datagram for one figure."""
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
        # UDP to a server that is down, or a full socket buffer, loses the figure: metrics
        # must never slow down or fail the work they describe.
        with contextlib.suppress(OSError):
            self._socket.sendto(self.line(name, value, kind, labels).encode(), self.address)

    def close(self) -> None:
        self._socket.close()


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
