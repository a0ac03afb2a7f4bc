"""Tries whose fork server died while they ran: watched by pid until they end.

A try runs in a session of its own and outlives its fork server (and its zygote). The
local executor starts a new fork server and watches each such try through a pidfd;
when it ends, its result file gives its outcome, or, without one, it is reported lost.
"""

from __future__ import annotations

import logging
import os
import select
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from millstream.runtime.events import TaskFinishedEvent, TaskWorkload
from millstream.runtime.worker import lost_try_event, read_result_file, result_path

log = logging.getLogger("millstream.executors.local")


@dataclass(slots=True)
class InFlightTry:
    """A try handed to the fork server and not yet reported finished."""

    workload: TaskWorkload
    pid: int | None = None


class OrphanedTries:
    """Running tries of a fork server that is gone, each watched through a pidfd."""

    def __init__(self, log_folder: Path, clock: Callable[[], datetime]) -> None:
        self.log_folder = log_folder
        self.clock = clock
        self._by_fd: dict[int, InFlightTry] = {}

    def __len__(self) -> int:
        return len(self._by_fd)

    def __iter__(self) -> Iterator[InFlightTry]:
        return iter(list(self._by_fd.values()))

    def fds(self) -> list[int]:
        """The pidfds to wait on: each becomes readable when its try has ended."""
        return list(self._by_fd)

    def watch(self, running: InFlightTry) -> TaskFinishedEvent | None:
        """Watch a try with a pid; its finished event at once if it has ended already."""
        assert running.pid is not None
        workload = running.workload
        if result_path(self.log_folder, workload.key, workload.try_number).exists():
            return self._ended(running)  # it has ended already (its pid may be another's)
        try:
            fd = os.pidfd_open(running.pid)
        except ProcessLookupError:
            return self._ended(running)
        except (AttributeError, OSError) as exc:  # no pidfd here: the outcome is unknown
            log.error("cannot watch try process %d: %s", running.pid, exc)
            return self._ended(running)
        self._by_fd[fd] = running
        return None

    def take_over(self, sent: list[InFlightTry]) -> list[TaskFinishedEvent]:
        """The tries of a fork server that has died: those it had started are watched here
        from now on; returns the events of those that never started, or ended already."""
        events = []
        for running in sent:
            if running.pid is None:
                now = self.clock()
                events.append(lost_try_event(
                    running.workload, now, now,
                    "the executor's fork server exited before it started the try"))
            elif (event := self.watch(running)) is not None:
                events.append(event)
        return events

    def check(self) -> list[TaskFinishedEvent]:
        """The finished events of the watched tries that have ended since the last check."""
        if not self._by_fd:
            return []
        ready, _, _ = select.select(list(self._by_fd), [], [], 0)
        events = []
        for fd in ready:
            running = self._by_fd.pop(fd)
            os.close(fd)
            events.append(self._ended(running))
        return events

    def forget(self) -> None:
        """Stop watching (the executor is stopping; result files stay for the next one)."""
        for fd in self._by_fd:
            os.close(fd)
        self._by_fd.clear()

    def _ended(self, running: InFlightTry) -> TaskFinishedEvent:
        workload = running.workload
        event = read_result_file(self.log_folder, workload.key, workload.try_number)
        if event is None:
            now = self.clock()
            event = lost_try_event(
                workload, now, now,
                "the try's process ended while the executor's fork server was down, "
                "without leaving a result",
            )
        return event
