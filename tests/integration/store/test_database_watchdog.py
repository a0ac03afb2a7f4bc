"""The database watchdog on a real PostgreSQL reached through a TCP proxy that fakes outages.

A closed proxy fails calls at once: the outage is logged once, and so is the database's
return. A stranded proxy swallows a call without an answer: it is logged within the
warning delay, cut once the server would have cancelled it, and the next connection
works when the proxy opens again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from tests.faultproxy import FaultProxy, fault_proxy
from tests.store_fixtures import postgres_url

from millstream.store.sql import make_engine
from millstream.store.sql.watchdog import DatabaseWatchdog, watching

WARN_S = 1.0
STATEMENT_TIMEOUT_S = 2.0


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    url = make_url(postgres_url())
    with fault_proxy(url.host or "127.0.0.1", url.port or 5432) as started:
        yield started


@pytest.fixture
def engine(proxy: FaultProxy) -> Iterator[Engine]:
    url = make_url(postgres_url()).set(host="127.0.0.1", port=proxy.port)
    made = make_engine(url, connect_timeout_s=2, statement_timeout_s=STATEMENT_TIMEOUT_S)
    yield made
    made.dispose()


def select_one(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT 1")).scalar_one())


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "millstream.database"]


def test_the_server_side_timeouts_reach_the_session(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "2s"
        assert connection.execute(
            text("SHOW idle_in_transaction_session_timeout")).scalar_one() == "2s"
        assert connection.execute(text("SHOW tcp_keepalives_idle")).scalar_one() == "10"


def test_a_stranded_call_is_logged_cut_and_the_next_one_works(
    engine: Engine, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="millstream.database")
    with watching(engine, "tester", warn_after_s=WARN_S,
                  statement_timeout_s=STATEMENT_TIMEOUT_S) as watchdog:
        assert select_one(engine) == 1
        proxy.set_mode("stranded")
        outcome: list[BaseException | int] = []
        worker = threading.Thread(target=lambda: outcome.append(_try(select_one, engine)))
        worker.start()
        wait_until(lambda: watchdog.in_outage, 30, "the stall to be noticed")
        assert any("has not answered for" in m for m in messages(caplog))
        assert outcome == []  # the call still waits: only logged so far
        worker.join(timeout=60)
        assert not worker.is_alive(), "the stranded call was never cut"
        assert watchdog.cuts == 1
        assert isinstance(outcome[0], Exception)  # failed like a lost connection
        assert any("cutting the connection" in m for m in messages(caplog))
        proxy.set_mode("open")
        assert select_one(engine) == 1
        assert not watchdog.in_outage
        assert any("answers again" in m for m in messages(caplog))


def test_a_closed_database_is_logged_once_and_its_return_too(
    engine: Engine, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="millstream.database")
    with DatabaseWatchdog(engine, "tester", warn_after_s=WARN_S, cut_after_s=10) as watchdog:
        assert select_one(engine) == 1
        proxy.set_mode("closed")
        for _ in range(3):
            assert isinstance(_try(select_one, engine), Exception)
        assert watchdog.outages == 1 and watchdog.cuts == 0
        lost = [m for m in messages(caplog) if "lost the database" in m]
        assert len(lost) == 1 and "\n" not in lost[0]
        proxy.set_mode("open")
        assert select_one(engine) == 1
        assert [m for m in messages(caplog) if "answers again" in m]
        assert watchdog.outages == 1 and not watchdog.in_outage


def test_a_slow_statement_within_the_timeout_is_only_logged(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="millstream.database")
    with watching(engine, "tester", warn_after_s=0.5,
                  statement_timeout_s=STATEMENT_TIMEOUT_S) as watchdog, engine.connect() as c:
        assert c.execute(text("SELECT 7 FROM pg_sleep(1.2)")).scalar_one() == 7
    assert watchdog.cuts == 0
    assert any("has not answered for" in m for m in messages(caplog))


def _try(call: Callable[[Engine], int], engine: Engine) -> BaseException | int:
    try:
        return call(engine)
    except Exception as exc:
        return exc


def test_a_new_connections_first_queries_are_watched_too(
    engine: Engine, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine asks a new connection a few questions (its schema, its version) before
    anything else: the path may go silent right then, as a process starts."""
    asked = engine.dialect._get_default_schema_name  # type: ignore[attr-defined]

    def strand_then_ask(connection: Any) -> Any:
        proxy.set_mode("stranded")
        return asked(connection)

    monkeypatch.setattr(engine.dialect, "_get_default_schema_name", strand_then_ask)
    with watching(engine, "tester", warn_after_s=WARN_S,
                  statement_timeout_s=STATEMENT_TIMEOUT_S) as watchdog:
        assert isinstance(_try(select_one, engine), Exception)
        assert (watchdog.outages, watchdog.cuts) == (1, 1)


def test_the_server_session_of_a_cut_connection_is_ended_and_its_locks_freed(
    engine: Engine, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    """A batched update stranded mid-pipeline: the server holds the row lock with no
    idle-in-transaction timer running, so only ending its session frees the row."""
    caplog.set_level(logging.INFO, logger="millstream.database")
    direct = make_engine(postgres_url())
    with direct.begin() as setup:
        setup.execute(text("CREATE TABLE IF NOT EXISTS watchdog_rows (id int PRIMARY KEY, n int)"))
        setup.execute(text("INSERT INTO watchdog_rows VALUES (1, 0) ON CONFLICT DO NOTHING"))

    def holds_row_lock(pid: int) -> bool:
        with direct.connect() as c:
            return bool(c.execute(text(
                "SELECT count(*) FROM pg_locks WHERE pid = :pid AND locktype = 'transactionid'"
            ), {"pid": pid}).scalar_one())

    def session_exists(pid: int) -> bool:
        with direct.connect() as c:
            return bool(c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                  {"pid": pid}).scalar_one())

    try:
        with watching(engine, "tester", warn_after_s=WARN_S,
                      statement_timeout_s=STATEMENT_TIMEOUT_S) as watchdog:
            raw = engine.raw_connection()
            driver: Any = raw.driver_connection
            pid = driver.pgconn.backend_pid
            pipeline = driver.pipeline()
            pipeline.__enter__()
            driver.execute("UPDATE watchdog_rows SET n = n + 1 WHERE id = 1")
            wait_until(lambda: holds_row_lock(pid), 10, "the update to take its row lock")
            proxy.set_mode("stranded")
            ended: list[BaseException | None] = []
            finisher = threading.Thread(
                target=lambda: ended.append(_try_exit(pipeline)), daemon=True)
            finisher.start()
            finisher.join(timeout=30)
            assert not finisher.is_alive(), "the stranded pipeline was never cut"
            assert watchdog.cuts == 1 and isinstance(ended[0], Exception)
            time.sleep(2 * STATEMENT_TIMEOUT_S)  # the server's own timers had their chance
            assert session_exists(pid), "the server ended the session itself"
            proxy.set_mode("open")
            assert select_one(engine) == 1
            wait_until(lambda: not session_exists(pid), 10, "the cut session to be ended")
            assert watchdog.orphans_ended == 1
            assert any(f"server process {pid}" in m for m in messages(caplog))
            with direct.begin() as c:  # the row is free again
                c.execute(text("SET LOCAL lock_timeout = '2s'"))
                c.execute(text("UPDATE watchdog_rows SET n = n + 1 WHERE id = 1"))
            with contextlib.suppress(Exception):
                raw.invalidate()
    finally:
        with direct.begin() as teardown:
            teardown.execute(text("DROP TABLE IF EXISTS watchdog_rows"))
        direct.dispose()


def _try_exit(pipeline: Any) -> BaseException | None:
    try:
        pipeline.__exit__(None, None, None)
    except Exception as exc:
        return exc
    return None
