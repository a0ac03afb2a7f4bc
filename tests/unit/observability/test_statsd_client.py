"""The StatsD client's lines and datagrams, read back from a real UDP socket."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from millstream.observability.statsd import DATAGRAM_BYTES, StatsdClient


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2)
    yield sock
    sock.close()


def _datagrams(sock: socket.socket, count: int) -> list[str]:
    return [sock.recv(65535).decode() for _ in range(count)]


def test_names_labels_and_kinds(listener: socket.socket) -> None:
    client = StatsdClient("127.0.0.1", listener.getsockname()[1], prefix="ms")
    client.incr("task_tries_finished", 1, {"dag": "a b", "task": "t/1", "state": "success"})
    client.gauge("pool_slots", -2, {"pool": "p"})
    client.timing("task_duration", 1.5)
    assert _datagrams(listener, 4) == [
        "ms.task_tries_finished.a_b.t_1.success:1|c", "ms.pool_slots.p:0|g",
        "ms.pool_slots.p:-2|g", "ms.task_duration:1.5|ms"]


def test_dogstatsd_tags_are_cleaned(listener: socket.socket) -> None:
    client = StatsdClient("127.0.0.1", listener.getsockname()[1], prefix="",
                          datadog_tags=True, constant_tags={"hostname": "h1"})
    client.incr("runs", 2, {"dag": "x,y|z#w v\0"})
    assert _datagrams(listener, 1) == ["runs:2|c|#hostname:h1,dag:x_y_z_w_v_"]


def test_held_lines_go_out_packed_in_datagrams_of_bounded_size(
        listener: socket.socket) -> None:
    client = StatsdClient("127.0.0.1", listener.getsockname()[1])
    with client.held():
        for i in range(200):
            client.incr("task_tries_finished", 1, {"dag": f"dag_{i:03d}"})
        with client.held():  # nested: the outer block sends
            client.incr("inner")
    lines: list[str] = []
    while len(lines) < 201:
        datagram = listener.recv(65535).decode()
        assert len(datagram.encode()) <= DATAGRAM_BYTES
        lines.extend(datagram.split("\n"))
    assert lines[0] == "millstream.task_tries_finished.dag_000:1|c"
    assert lines[-1] == "millstream.inner:1|c"
    assert len(set(lines)) == 201
