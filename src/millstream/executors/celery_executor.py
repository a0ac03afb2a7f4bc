"""The Celery executor: tries go to ``millstream worker`` processes through a Celery broker.

The scheduler claims a try in the database (``scheduled -> queued``, with a new step id)
and, once that commits, sends one message naming it (:class:`TryMessage`) to the Celery
queue of the task's ``queue`` (:class:`~millstream.executors.celery_sender.BrokerSender`:
one the broker refuses is sent again from a thread, so the scheduler's loop does not wait
on a broker that is away). A worker that receives it records the start (``queued ->
running``), runs the try as the local executor would, heartbeats it and records its
outcome, each a compare-and-set on that try number and step id, and sends a PostgreSQL
notification with the outcome, in the same transaction. The scheduler sleeps on those
notifications (:class:`~millstream.store.sql.notify.OutcomeListener`) and looks at the
tasks each one names; it never applies a remote outcome itself.

Failures:

- the broker is unreachable when a try is sent: the message (and those after it) is
  kept and sent again every second; the try stays queued meanwhile;
- a message is lost, or no worker takes it: the try stays queued with no sign of life,
  and the scheduler's liveness check queues it again after the zombie timeout (a later
  delivery of the old message is refused by the worker);
- a worker dies mid-try: its heartbeats stop and the liveness check ends the try
  up_for_retry or failed, per its retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from millstream.executors.celery_app import DEFAULT_QUEUE, RUN_TRY, TryMessage
from millstream.executors.celery_sender import RESEND_S, BrokerSender
from millstream.model.states import TaskState
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload

if TYPE_CHECKING:
    from celery import Celery

    from millstream.store.outcome_notes import OutcomeNote
    from millstream.store.records import TaskInstanceKey
    from millstream.store.sql.notify import OutcomeListener

log = logging.getLogger("millstream.executors.celery")

RECONCILE_S = 10.0
"""How often the tries counted as outstanding are checked against the database."""

Event = TaskStartedEvent | TaskFinishedEvent
BusyTries = Callable[[], set[tuple["TaskInstanceKey", int]]]
"""The (key, try number) of every instance queued or running in the database."""


class CeleryExecutor:
    """Sends tries to Celery workers; learns of their outcomes from the database.

    ``parallelism`` caps the tries sent and not yet ended, across all workers.
    ``queue_of`` gives a task's queue (None or the operator default: ``default_queue``).
    """

    def __init__(
        self,
        app: Celery,
        parallelism: int,
        listener: OutcomeListener,
        queue_of: Callable[[TaskInstanceKey], str | None],
        busy_tries: BusyTries,
        default_queue: str = DEFAULT_QUEUE,
    ) -> None:
        if parallelism < 1:
            raise ValueError(f"parallelism must be at least 1, got {parallelism}")
        self.app = app
        self.parallelism = parallelism
        self.listener = listener
        self.queue_of = queue_of
        self.busy_tries = busy_tries
        self.default_queue = default_queue
        self._outstanding: dict[TaskInstanceKey, int] = {}
        # Sends at once, or from its thread behind a refused message (one at a time).
        self._sender = BrokerSender(self._send, self._wanted)
        self._next_reconcile = time.monotonic() + RECONCILE_S
        self._events: list[Event] = []
        self._connection: Any = None
        self._producer: Any = None
        self.sent = 0  # messages the broker took (for benchmarks and tests)

    # -- the Executor protocol --------------------------------------------------------------
    def open_slots(self) -> int:
        """``parallelism`` minus the tries sent (or waiting to be sent) and not ended."""
        return max(0, self.parallelism - len(self._outstanding))

    def submit(self, workload: TaskWorkload) -> None:
        """Send one message naming the try to the Celery queue of its task."""
        key = workload.key
        queue = self.queue_of(key)
        if not queue or queue == DEFAULT_QUEUE:
            queue = self.default_queue
        message = TryMessage(key.dag_id, key.run_id, key.task_id, key.map_index,
                             workload.try_number, workload.step_id)
        self._outstanding[key] = workload.try_number
        self._sender.put(message, queue)

    def sync(self) -> None:
        """Check outstanding tries against the database now and then (the sender thread
        sends again what the broker did not take)."""
        now = time.monotonic()
        if now >= self._next_reconcile:
            self._next_reconcile = now + RECONCILE_S
            self._reconcile()

    def drain_events(self) -> list[Event]:
        """Nothing runs here, so there are no events but refusals to send."""
        events, self._events = self._events, []
        return events

    def drain_recorded(self) -> tuple[bool, list[OutcomeNote]]:
        """What workers recorded since the last call (see :class:`RecordsRemotely`)."""
        missed = self.listener.reconnected()
        notes = self.listener.drain()
        missed |= self.listener.reconnected()
        for note in notes:
            if note.state != TaskState.RUNNING.value \
                    and self._outstanding.get(note.key) == note.try_number:
                del self._outstanding[note.key]
        return missed, notes

    def has_work(self) -> bool:
        """Whether tries were sent (or wait to be) and have not been seen to end."""
        return bool(self._outstanding or len(self._sender) or self._events)

    def wait_for_events(self, timeout: float) -> bool:
        """Sleep until a worker's note arrives or ``timeout`` seconds pass."""
        if self._events:
            return True
        return self.listener.wait(timeout)

    def in_flight(self) -> set[TaskInstanceKey]:
        """Tries not yet handed to the broker: surely not started anywhere."""
        return self._sender.pending()

    def running_pids(self) -> dict[TaskInstanceKey, int]:
        """No try runs on this machine."""
        return {}

    def terminate(self, key: TaskInstanceKey) -> None:
        """Forget the try; its worker sees at its next heartbeat that the instance moved on,
        and kills it."""
        self._outstanding.pop(key, None)

    # -- beyond the protocol ----------------------------------------------------------------
    def stop(self) -> None:
        """Stop sending; close the listening connection and the broker connection."""
        self._sender.stop()
        self.listener.close()
        self._drop_connection()

    def _wanted(self, message: TryMessage) -> bool:
        """Whether the try is still waiting for this message (the sender asks)."""
        return self._outstanding.get(message.ref.key) == message.try_number

    def _send(self, message: TryMessage, queue: str) -> bool:
        # A connection of its own, not one of kombu's process-wide pools: a failed one is
        # dropped and the next send opens another.
        try:
            if self._producer is None:
                self._connection = self.app.connection_for_write()
                self._producer = self._connection.Producer()
            self.app.send_task(RUN_TRY, args=message.args(), queue=queue, retry=False,
                               producer=self._producer)
        except Exception as exc:  # any broker error: keep the message and try again
            log.warning("the broker did not take %s (%s); sending it again in %g s",
                        message.ref.describe(), exc, RESEND_S)
            self._drop_connection()
            return False
        self.sent += 1
        return True

    def _drop_connection(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception as exc:  # a broken connection may fail to close; it is gone
                log.debug("closing the broker connection: %s", exc)

    def _reconcile(self) -> None:
        """Forget outstanding tries the database no longer has queued or running (a note
        missed, or an outcome the scheduler applied itself, such as a vanished try)."""
        if not self._outstanding:
            return
        try:
            busy = self.busy_tries()
        except Exception as exc:
            log.warning("could not check outstanding tries against the database: %s", exc)
            return
        for key, try_number in list(self._outstanding.items()):
            if (key, try_number) not in busy:
                del self._outstanding[key]


__all__ = ["CeleryExecutor"]
