"""The database watchdog of one long-running process: an outage is logged within seconds,
a call the server will never answer is cut, and the return of the database is logged.

A server that is down, or a connection closed under the process, fails its call at once:
the watchdog logs the first such error of an outage and, later, the first call that
succeeds again. A path that swallows packets is worse: the kernel keeps acknowledging,
so neither TCP keepalives nor the server's statement timeout (the server never got the
statement) end the wait. The watchdog samples every connection it knows; one busy with
the same call for ``warn_after_s`` is logged, and once ``cut_after_s`` have passed (by
then a reachable server would have cancelled the statement itself) its socket is shut
down, so the call fails like any lost connection and the process's loop retries.

Cutting a connection ends the wait on this side only: the server may still hold that
session, in the middle of a transaction and with its row locks, waiting for the rest of a
pipeline that will never come (the server's idle-in-transaction timeout does not cover a
session left mid-pipeline, as after a batched ``executemany``). So the server process of
every connection cut is ended with ``pg_terminate_backend`` as soon as the database
answers again; until then the locks it holds stall other processes, never for good.

Only PostgreSQL (psycopg) connections are sampled; on SQLite the watchdog logs lost
connections only, since a file lock is bounded by the busy timeout already.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import OperationalError

from millstream.store.sql.engine import describe_database_error

log = logging.getLogger("millstream.database")

SAMPLE_INTERVAL_S = 0.5
_PQ_ACTIVE = 1
"""libpq's PQTRANS_ACTIVE: a command was sent and its answer has not come yet."""

_END_ORPHAN = text(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = :pid "
    "AND usename = current_user "
    "AND backend_start < now() - make_interval(secs => :since_cut_s)"
)
"""Ends the server process of a cut connection. Its process id may have been given to a
new session since: only a session older than the cut, of the same user, is ended."""


@dataclass
class _Busy:
    """A connection seen busy with the same call since ``since`` (monotonic)."""

    calls: int
    since: float
    warned: bool = False
    cut: bool = False


class DatabaseWatchdog:
    """Watches the connections of ``engine`` for ``component`` (a name for the log).

    ``start()`` runs a daemon thread until ``stop()``; use it as a context manager.
    Connections are known from the moment the watchdog exists, and those opened before
    from their first return to the pool: create it before the process's first connection
    to watch that connection's first call too.
    """

    def __init__(
        self,
        engine: Engine,
        component: str,
        warn_after_s: float = 5.0,
        cut_after_s: float = 35.0,
        interval_s: float = SAMPLE_INTERVAL_S,
    ) -> None:
        if cut_after_s < warn_after_s:
            raise ValueError(
                f"cut_after_s ({cut_after_s}) must not be shorter than warn_after_s "
                f"({warn_after_s})"
            )
        self.engine = engine
        self.component = component
        self.warn_after_s = warn_after_s
        self.cut_after_s = cut_after_s
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._calls: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._busy: weakref.WeakKeyDictionary[Any, _Busy] = weakref.WeakKeyDictionary()
        self._outage_since: float | None = None
        self.outages = 0  # how many outages were noticed (for tests and metrics)
        self.cuts = 0
        self._orphans: dict[int, float] = {}  # server pid of a cut connection -> when cut
        self.orphans_ended = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listeners = [
            (engine, "connect", self._on_connect),
            (engine, "checkout", self._on_connect),
            # A connection made before the watchdog is known from its first return to the
            # pool: before the ping of its next checkout, which may be the call that hangs.
            (engine, "checkin", self._on_connect),
            (engine, "before_cursor_execute", self._on_call),
            (engine, "commit", self._on_transaction_end),
            (engine, "rollback", self._on_transaction_end),
            (engine, "after_cursor_execute", self._on_answer),
            (engine, "handle_error", self._on_error),
        ]
        for target, name, listener in self._listeners:
            # First in line: a new connection is known before the dialect's first queries
            # on it (the engine's own "connect" listener), which may be what hangs.
            event.listen(target, name, listener, insert=True)

    # -- the thread -------------------------------------------------------------------------
    def start(self) -> DatabaseWatchdog:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._watch, name=f"database-watchdog-{self.component}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for target, name, listener in self._listeners:
            with contextlib.suppress(Exception):
                event.remove(target, name, listener)

    def __enter__(self) -> DatabaseWatchdog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sample(time.monotonic())
            except Exception:  # the watchdog must outlive anything it watches
                log.exception("%s: the database watchdog failed a round", self.component)

    # -- one round --------------------------------------------------------------------------
    def sample(self, now: float) -> None:
        """Look at every known connection once (the thread calls this every interval)."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            pgconn = getattr(connection, "pgconn", None)
            if pgconn is None:
                continue
            try:
                active = pgconn.transaction_status == _PQ_ACTIVE
            except Exception:
                active = False
            with self._lock:
                calls = self._calls.get(connection, 0)
                busy = self._busy.get(connection)
                if not active or busy is None or busy.calls != calls:
                    if active:
                        self._busy[connection] = _Busy(calls, now)
                    else:
                        self._busy.pop(connection, None)
                    continue
            waited = now - busy.since
            if waited >= self.warn_after_s and not busy.warned:
                busy.warned = True
                self._begin_outage(now - waited)
                log.warning(
                    "%s: the database has not answered for %.0f s; waiting for it (the "
                    "connection is cut after %.0f s)", self.component, waited,
                    self.cut_after_s,
                )
            if waited >= self.cut_after_s and not busy.cut:
                busy.cut = True
                self.cuts += 1
                log.error(
                    "%s: no answer from the database for %.0f s: cutting the connection; "
                    "the next attempt opens a new one", self.component, waited,
                )
                self._remember_orphan(pgconn, now)
                _shut_down(pgconn)
        if self._orphans and not self.in_outage:
            self._end_orphans(now)

    def _remember_orphan(self, pgconn: Any, now: float) -> None:
        try:
            pid = int(pgconn.backend_pid)
        except Exception:
            return
        if pid:
            with self._lock:
                self._orphans[pid] = now

    def _end_orphans(self, now: float) -> None:
        """End the server sessions of connections cut during the outage; those that could
        not be reached are tried again next round."""
        with self._lock:
            orphans = dict(self._orphans)
        try:
            with self.engine.connect() as connection:
                for pid, cut_at in orphans.items():
                    ended = connection.execute(
                        _END_ORPHAN, {"pid": pid, "since_cut_s": max(0.0, now - cut_at)}
                    ).scalar()
                    connection.commit()
                    with self._lock:
                        self._orphans.pop(pid, None)
                    if ended:
                        self.orphans_ended += 1
                        log.warning(
                            "%s: ended the server session of a connection cut during the "
                            "outage (server process %d), releasing what it held",
                            self.component, pid,
                        )
        except Exception as exc:  # still unreachable: the next round tries again
            log.debug("%s: could not end cut sessions yet: %s", self.component, exc)

    # -- engine events ----------------------------------------------------------------------
    def _on_connect(self, dbapi_connection: Any, *_args: Any) -> None:
        # psycopg's connections are the ones that can be sampled
        if dbapi_connection is not None and hasattr(dbapi_connection, "pgconn"):
            with self._lock:
                self._connections.add(dbapi_connection)

    def _on_call(self, connection: Any, *_args: Any) -> None:
        dbapi = _dbapi_of(connection)
        if dbapi is None or not hasattr(dbapi, "pgconn"):
            return
        with self._lock:
            self._connections.add(dbapi)
            self._calls[dbapi] = self._calls.get(dbapi, 0) + 1

    def _on_transaction_end(self, connection: Any) -> None:
        self._on_call(connection)

    def _on_answer(self, *_args: Any) -> None:
        with self._lock:
            since, self._outage_since = self._outage_since, None
        if since is not None:
            log.warning("%s: the database answers again (after %.1f s)", self.component,
                        time.monotonic() - since)

    def _on_error(self, context: ExceptionContext) -> None:
        # On SQLite an OperationalError is a locked or unwritable file, not a lost server.
        server = self.engine.dialect.name != "sqlite"
        if context.is_disconnect or (
            server and isinstance(context.sqlalchemy_exception, OperationalError)
        ):
            with self._lock:
                first = self._outage_since is None
            if first:
                self._begin_outage(time.monotonic())
                error = context.sqlalchemy_exception or context.original_exception
                log.warning("%s: lost the database (%s); waiting for it to come back",
                            self.component, " ".join(describe_database_error(error).split()))

    def _begin_outage(self, since: float) -> None:
        with self._lock:
            if self._outage_since is None:
                self._outage_since = since
                self.outages += 1

    @property
    def in_outage(self) -> bool:
        with self._lock:
            return self._outage_since is not None


def _dbapi_of(connection: Any) -> Any:
    """The driver connection under a SQLAlchemy ``Connection`` (None once it is closed)."""
    try:
        fairy = connection.connection
    except Exception:
        return None
    return getattr(fairy, "dbapi_connection", None)


def _shut_down(pgconn: Any) -> None:
    """Shut the connection's socket down under the waiting call: its wait ends with an
    error at once. The descriptor stays the driver's to close."""
    try:
        fd = pgconn.socket
    except Exception:
        return
    try:
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError as exc:
        log.debug("could not shut the connection down: %s", exc)


def cut_after(warn_after_s: float, statement_timeout_s: float) -> float:
    """When a call is cut: ``warn_after_s`` after the server would have cancelled it
    itself, never when the server has no statement timeout (0)."""
    return statement_timeout_s + warn_after_s if statement_timeout_s > 0 else math.inf


@contextlib.contextmanager
def watching(engine: Engine, component: str, warn_after_s: float = 5.0,
             statement_timeout_s: float = 30.0) -> Iterator[DatabaseWatchdog]:
    """A running watchdog for ``component`` for the length of the block (calls are cut
    per :func:`cut_after`)."""
    watchdog = DatabaseWatchdog(engine, component, warn_after_s=warn_after_s,
                                cut_after_s=cut_after(warn_after_s, statement_timeout_s))
    with watchdog:
        yield watchdog
