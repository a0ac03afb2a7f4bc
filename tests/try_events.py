"""Waiting for a local executor's try to end, for tests that run one try directly."""

from __future__ import annotations

import time

from millstream.executors.local import LocalExecutor
from millstream.runtime.events import TaskFinishedEvent


def wait_for_finished(executor: LocalExecutor, timeout: float = 30.0) -> TaskFinishedEvent:
    """The first ``TaskFinishedEvent`` the executor reports; fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, "the try never reported its end"
        executor.wait_for_events(1.0)
        for event in executor.drain_events():
            if isinstance(event, TaskFinishedEvent):
                return event
