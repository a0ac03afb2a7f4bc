"""Handing try messages to the broker from a thread of their own.

The scheduler's loop only queues a message here and goes on: the broker's round trip (and,
when the broker is away, its connection timeout) overlaps the loop's database work instead
of adding to it. Messages go out in the order they were queued. One the broker does not
take stays first in line and is sent again every :data:`RESEND_S`; a message whose try is
no longer wanted by the time its turn comes (terminated, or given up) is dropped unsent.

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
    """Sends queued messages, in order, from one daemon thread started on first use."""

    def __init__(self, send: Send, wanted: Wanted, resend_s: float = RESEND_S) -> None:
        self._send = send
        self._wanted = wanted
        self.resend_s = resend_s
        self._waiting: deque[tuple[TryMessage, str]] = deque()
        self._changed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def put(self, message: TryMessage, queue: str) -> None:
        """Queue ``message`` for ``queue``; it is sent after those queued before it."""
        with self._changed:
            if self._stopping:
                raise RuntimeError("the broker sender has stopped")
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
                while not self._waiting and not self._stopping:
                    self._changed.wait()
                if self._stopping:
                    return
                message, queue = self._waiting[0]
            # A try terminated or given up meanwhile: its message is dropped unsent.
            sent = not self._wanted(message) or self._send(message, queue)
            with self._changed:
                if sent:
                    self._waiting.popleft()
                    continue
                deadline = time.monotonic() + self.resend_s  # the broker is away: the
                while not self._stopping and (left := deadline - time.monotonic()) > 0:
                    self._changed.wait(left)  # same message again, a bit later


__all__ = ["RESEND_S", "BrokerSender"]
