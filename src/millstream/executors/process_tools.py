"""Small tools the executor's processes share: JSON-line pipes, process-group kills, exit words."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import time
from datetime import timedelta
from typing import Any

_READ_SIZE = 1 << 16


class JsonLinePipe:
    """One end of a pair of non-blocking pipes carrying one JSON document per line.

    Writes are buffered and go out as the reader takes them; nothing here blocks except
    :meth:`flush_before_exit`. A ``batched`` pipe only queues what is sent: its owner
    flushes it once each time round its loop, so the messages of one round go out in one
    write and wake the reader once.
    """

    def __init__(self, read_fd: int | None, write_fd: int | None,
                 batched: bool = False) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.batched = batched
        self._inbox = bytearray()
        self._outbox = bytearray()
        self._close_when_flushed = False
        for fd in (read_fd, write_fd):
            if fd is not None:
                os.set_blocking(fd, False)

    @property
    def wants_write(self) -> bool:
        """Whether lines are waiting for the reader to make room."""
        return bool(self._outbox) and self.write_fd is not None

    def read_lines(self) -> list[bytes]:
        """The complete lines that have arrived; at end-of-file the read end is closed."""
        lines: list[bytes] = []
        while self.read_fd is not None:
            try:
                chunk = os.read(self.read_fd, _READ_SIZE)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                os.close(self.read_fd)
                self.read_fd = None
                break
            self._inbox += chunk
            if len(chunk) < _READ_SIZE:
                break
        while (end := self._inbox.find(b"\n")) >= 0:
            line = bytes(self._inbox[:end])
            del self._inbox[: end + 1]
            if line.strip():
                lines.append(line)
        return lines

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        """Queue one message (a dict, or a line of JSON already, as text or bytes) and
        write what fits."""
        if self.write_fd is None:
            return
        if isinstance(message, dict):
            message = json.dumps(message, separators=(",", ":"))
        self._outbox += message if isinstance(message, bytes) else message.encode()
        self._outbox += b"\n"
        if not self.batched:
            self.flush()

    def flush(self) -> None:
        """Write what the pipe takes now; a reader that has gone drops the rest."""
        while self._outbox and self.write_fd is not None:
            try:
                written = os.write(self.write_fd, self._outbox)
            except BlockingIOError:
                return
            except OSError:
                self._outbox.clear()
                break
            del self._outbox[:written]
        if self._close_when_flushed and not self._outbox:
            self.close_write()

    def close_write_when_flushed(self) -> None:
        """End the reader's input once everything queued has been written."""
        self._close_when_flushed = True
        self.flush()

    def close_write(self) -> None:
        """End the reader's input now, dropping anything not yet written."""
        self._outbox.clear()
        if self.write_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.write_fd)
            self.write_fd = None

    def close(self) -> None:
        """Close both ends."""
        self.close_write()
        if self.read_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.read_fd)
            self.read_fd = None

    def flush_before_exit(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the reader to take what is queued."""
        deadline = time.monotonic() + timeout
        while self.wants_write:
            left = deadline - time.monotonic()
            if left <= 0 or self.write_fd is None:
                return
            select.select([], [self.write_fd], [], left)
            self.flush()


def kill_group(pgid: int, signum: int) -> None:
    """Signal a process group, if it is still there."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def kill_pid(pid: int, signum: int) -> None:
    """Signal one process, if it is still there."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def reap_child(pid: int) -> str:
    """Wait for a child to end and collect its exit status; returns how it ended, in words."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "has exited"
    return describe_status(status)


def describe_status(status: int | None) -> str:
    """How a process ended, in words, from its wait status (None: nobody knows)."""
    if status is None:
        return "ended (its exit status was lost)"
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        return f"was killed by signal {name} ({signum})"
    if os.WIFEXITED(status):
        return f"exited with code {os.WEXITSTATUS(status)}"
    return f"ended with wait status {status}"


def seconds(timeout: object) -> float | None:
    """A timeout (timedelta or number) in positive seconds, or None for 'no timeout'."""
    if timeout is None:
        return None
    if isinstance(timeout, timedelta):
        value = timeout.total_seconds()
    elif isinstance(timeout, int | float):
        value = float(timeout)
    else:
        return None
    return value if value > 0 else None


def exited_child(pid: int | None = None) -> int | None:
    """The pid of an ended child (any, or ``pid``) without reaping it; None if none."""
    try:
        info = os.waitid(os.P_ALL if pid is None else os.P_PID, pid or 0,
                         os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return None
    if info is None or info.si_pid == 0:
        return None
    return int(info.si_pid)


def is_child(pid: int) -> bool:
    """Whether ``pid`` is (still) a child of this process, ended or not."""
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def serve_signals(wake_read: int, wake_write: int) -> None:
    """The signals of a serving process (the fork server, a zygote): the terminal's Ctrl-C
    and hang-up are the scheduler's to act on, TERM and ALRM keep their default, and a
    child's exit only wakes the loop through the wakeup pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    os.set_blocking(wake_write, False)
    os.set_blocking(wake_read, False)
    signal.signal(signal.SIGCHLD, _wake_only)
    signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)


def drain_wakeups(wake_read: int) -> bool:
    """Empty the wakeup pipe of :func:`serve_signals`; whether a signal had written to it."""
    try:
        return bool(os.read(wake_read, 4096))
    except BlockingIOError:
        return False


def _wake_only(signum: int, frame: object) -> None:
    """SIGCHLD only has to wake the loop (through the wakeup fd)."""
