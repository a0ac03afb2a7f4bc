"""Handing try messages to the broker, and again while it does not take them.

A message with none waiting before it is sent at once, in the caller's thread: the quickest
way to a worker (a hop to another thread waits for the interpreter lock behind the
scheduler's own work, about as long again as the send). One the broker does not take is
kept, first in line, and a thread of its own sends it again every :data:`RESEND_S`,
followed by those queued behind it meanwhile: while the broker is away the scheduler's loop
pays one attempt (up to the connection timeout), not one per message or per second.
Messages go out in the order they were given. A message whose try is no longer wanted by
the time its turn comes (terminated, or given up) is dropped unsent.

Until the broker has taken a message, its try is :meth:`BrokerSender.pending`: surely not
started anywhere.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from millstream.executors.celery_app import TryMessage
    from millstream.store.records import TaskInstanceKey

RESEND_S = 1.0
"""How often a message the broker did not take is sent again."""

Send = Callable[["TryMessage", str], bool]
"""Hand one message to the broker for a queue; False if the broker did not take it."""
Wanted = Callable[["TryMessage"], bool]
"""Whether the try a message names still waits for it."""


class BrokerSender:
    """Sends messages in order: at once, or (behind one the broker refused) from one
    daemon thread started on first need."""

    def __init__(self, send: Send, wanted: Wanted, resend_s: float = RESEND_S) -> None:
        self._send = send
        self._wanted = wanted
        self.resend_s = resend_s
        self._waiting: deque[tuple[TryMessage, str]] = deque()
        self._changed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._next_attempt = 0.0  # after a refusal: when the first in line goes again

    def put(self, message: TryMessage, queue: str) -> None:
        """Send ``message`` to ``queue`` now if none waits before it (else, or if the broker
        does not take it, keep it to be sent after those before it)."""
        with self._changed:
            if self._stopping:
                raise RuntimeError("the broker sender has stopped")
            # Nothing waits, so the thread is idle: the connection is the caller's.
            if not self._waiting:
                if self._send(message, queue):
                    return
                self._next_attempt = time.monotonic() + self.resend_s
            self._waiting.append((message, queue))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="millstream-broker-sender")
                self._thread.start()
            self._changed.notify()

    def pending(self) -> set[TaskInstanceKey]:
        """The instances whose messages the broker has not taken yet."""
        with self._changed:
            return {message.ref.key for message, _ in self._waiting}

    def __len__(self) -> int:
        with self._changed:
            return len(self._waiting)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop sending (what is still waiting is dropped: those tries stay queued, and the
        scheduler's liveness check queues them again) and wait for the thread."""
        with self._changed:
            self._stopping = True
            self._changed.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._stopping:
                    if not self._waiting:
                        self._changed.wait()
                        continue
                    left = self._next_attempt - time.monotonic()
                    if left <= 0:
                        break
                    self._changed.wait(left)  # the broker refused: the same one, later
                if self._stopping:
                    return
                message, queue = self._waiting[0]
            # A try terminated or given up meanwhile: its message is dropped unsent.
            sent = not self._wanted(message) or self._send(message, queue)
            with self._changed:
                if sent:
                    self._waiting.popleft()
                else:
                    self._next_attempt = time.monotonic() + self.resend_s


__all__ = ["RESEND_S", "BrokerSender"]
