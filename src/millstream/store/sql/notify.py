"""PostgreSQL ``LISTEN/NOTIFY`` for outcomes recorded away from the scheduler.

A remote worker records a try's outcome in its own transaction and, in that same
transaction, sends a notification naming the try and the tasks whose readiness may have
changed (a start is not notified: it frees and readies nothing). PostgreSQL delivers it
to every listening session when (and only if) the transaction commits, so a scheduler
sleeping in :meth:`OutcomeListener.wait` wakes within milliseconds of the commit, without
polling.

A notification is lost only if the listening connection is: after every (re)connect the
listener says so (:attr:`OutcomeListener.reconnected`), and the scheduler then looks at
every active run again. On other databases nothing is sent.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from millstream.store.outcome_notes import OutcomeNote

if TYPE_CHECKING:
    import psycopg

    from millstream.store.sql.store import SqlStore

log = logging.getLogger("millstream.store.notify")

CHANNEL = "millstream_outcomes"
RECONNECT_S = 1.0


def notify_outcome(store: SqlStore, note: OutcomeNote) -> None:
    """Send ``note`` when the caller's transaction commits (PostgreSQL only)."""
    if store.session.get_bind().dialect.name != "postgresql":
        return
    store.session.execute(select(func.pg_notify(CHANNEL, note.to_payload())))


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq takes it (no ``+driver``)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class OutcomeListener:
    """One connection that ``LISTEN``\\ s for outcome notes and waits for them.

    It belongs to one thread. A lost connection is opened again on the next wait (at
    most once per :data:`RECONNECT_S`); :attr:`reconnected` is then true until read.
    """

    def __init__(self, url: str, connect_timeout_s: int = 5) -> None:
        self.conninfo = libpq_url(url)
        self.connect_timeout_s = connect_timeout_s
        self._conn: psycopg.Connection[Any] | None = None
        self._next_attempt = 0.0
        self._reconnected = False
        self._notes: list[OutcomeNote] = []

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def reconnected(self) -> bool:
        """Whether the connection was (re)opened since the last call: notes sent while it
        was down are lost, so everything they might have said must be looked at again."""
        value, self._reconnected = self._reconnected, False
        return value

    def _connect(self) -> psycopg.Connection[Any] | None:
        if self._conn is not None:
            return self._conn
        now = time.monotonic()
        if now < self._next_attempt:
            return None
        self._next_attempt = now + RECONNECT_S
        import psycopg

        try:
            conn = psycopg.connect(self.conninfo, autocommit=True,
                                   connect_timeout=self.connect_timeout_s,
                                   keepalives=1, keepalives_idle=10, keepalives_interval=5,
                                   keepalives_count=3)
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            log.warning("cannot listen for outcomes on the database: %s", exc)
            return None
        self._conn = conn
        self._reconnected = True
        return conn

    def wait(self, timeout: float) -> bool:
        """Block until a note arrives or ``timeout`` seconds pass; True if notes are ready."""
        import psycopg

        if self._notes:
            return True
        conn = self._connect()
        if conn is None:
            time.sleep(min(max(timeout, 0.0), max(0.0, self._next_attempt - time.monotonic())))
            return False
        try:
            for notify in conn.notifies(timeout=max(timeout, 0.0), stop_after=1):
                self._take(notify.payload)
            for notify in conn.notifies(timeout=0.0):
                self._take(notify.payload)
        except psycopg.Error as exc:
            log.warning("lost the connection listening for outcomes: %s", exc)
            self.close()
        return bool(self._notes)

    def drain(self) -> list[OutcomeNote]:
        """The notes received so far, oldest first."""
        if not self._notes and self._conn is not None:
            self.wait(0.0)
        notes, self._notes = self._notes, []
        return notes

    def _take(self, payload: str) -> None:
        try:
            self._notes.append(OutcomeNote.from_payload(payload))
        except (ValueError, KeyError, TypeError) as exc:
            log.error("ignoring a malformed outcome note %r: %s", payload[:200], exc)

    def close(self) -> None:
        """Close the connection (a later wait opens a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception as exc:  # closing a broken connection may fail; it is gone
                log.debug("closing the listening connection: %s", exc)


__all__ = ["CHANNEL", "OutcomeListener", "OutcomeNote", "libpq_url", "notify_outcome"]
