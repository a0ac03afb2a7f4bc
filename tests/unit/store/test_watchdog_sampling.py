"""The watchdog's judgement of a connection from one sample to the next (no database: the
driver's connection is a stand-in that reports whether a call awaits its answer)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from millstream.store.sql import make_engine
from millstream.store.sql.watchdog import DatabaseWatchdog

ACTIVE, IDLE = 1, 0


@dataclass
class FakePgConn:
    transaction_status: int = IDLE
    pair: tuple[socket.socket, socket.socket] = field(default_factory=socket.socketpair)

    @property
    def socket(self) -> int:
        return self.pair[0].fileno()

    def close(self) -> None:
        for end in self.pair:
            end.close()


class FakeConnection:
    def __init__(self) -> None:
        self.pgconn = FakePgConn()


class FakeSqlConnection:
    """What an engine event hands over: a SQLAlchemy connection around the driver's."""

    def __init__(self, dbapi: FakeConnection) -> None:
        self.connection = type("Fairy", (), {"dbapi_connection": dbapi})()


@pytest.fixture
def watchdog() -> Iterator[DatabaseWatchdog]:
    engine = make_engine("sqlite://")
    dog = DatabaseWatchdog(engine, "tester", warn_after_s=5, cut_after_s=35)
    yield dog
    dog.stop()
    engine.dispose()


def test_a_busy_connection_making_progress_is_never_reported(
    watchdog: DatabaseWatchdog, caplog: pytest.LogCaptureFixture
) -> None:
    conn = FakeConnection()
    watchdog._on_connect(conn)
    conn.pgconn.transaction_status = ACTIVE
    for second in range(0, 120, 1):  # a new statement every second, always one in flight
        watchdog._on_call(FakeSqlConnection(conn))
        watchdog.sample(float(second))
    assert watchdog.outages == 0 and watchdog.cuts == 0
    assert not caplog.records
    conn.pgconn.close()


def test_one_call_without_an_answer_is_reported_then_cut(
    watchdog: DatabaseWatchdog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="millstream.database")
    conn = FakeConnection()
    watchdog._on_connect(conn)
    watchdog._on_call(FakeSqlConnection(conn))
    conn.pgconn.transaction_status = ACTIVE
    watchdog.sample(100.0)
    watchdog.sample(104.0)
    assert watchdog.outages == 0  # 4 s: not yet
    watchdog.sample(105.0)
    assert watchdog.outages == 1 and watchdog.in_outage and watchdog.cuts == 0
    watchdog.sample(134.0)
    assert watchdog.cuts == 0
    watchdog.sample(135.0)
    assert watchdog.cuts == 1
    conn.pgconn.pair[1].settimeout(1)
    assert conn.pgconn.pair[1].recv(1) == b""  # the socket was shut down under the call
    watchdog.sample(140.0)
    assert watchdog.cuts == 1  # once
    watchdog._on_answer()
    assert not watchdog.in_outage
    assert [r.getMessage().split(":")[1].strip()[:20] for r in caplog.records] == [
        "the database has not", "no answer from the d", "the database answers"]
    conn.pgconn.close()
