"""The fork server's zygotes: one per DAG file version, started on demand, retired when idle.

A zygote (:mod:`millstream.executors.zygote`) serves one version of one DAG file, as
its stamp (modification time, size, inode) identifies it. The scheduler may have one
started ahead, as a run starts (:meth:`ZygotePool.prepare`), so the file's import
overlaps the run's first tick. A try of a file whose stamp changed goes to a new
zygote, and the old one is retired: its input is closed, it forks nothing more and
exits when its processes have ended. So is a zygote idle for ``zygote_idle_s``, the
least recently used idle zygote when :data:`MAX_ZYGOTES` are alive, and every zygote
when the fork server winds down. A zygote still importing at its deadline
(``dag_import_timeout``) is killed with its process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from millstream.executors.fork_config import MAX_ZYGOTES, ForkServerConfig
from millstream.executors.process_tools import JsonLinePipe, kill_group, kill_pid
from millstream.executors.zygote import run_zygote

Stamp = tuple[int, int, int]


class CannotStart(Exception):
    """No zygote can serve this DAG file (it cannot be read)."""


@dataclass(slots=True)
class Zygote:
    """A zygote as the fork server sees it."""

    path: str
    stamp: Stamp
    pid: int
    pipe: JsonLinePipe
    import_deadline: float | None
    last_used: float
    ready: bool = False
    retiring: bool = False
    failure: str | None = None  # why its import failed, as it said or as we decided


class ZygotePool:
    """Every live zygote of one fork server: the current one per file, and retiring ones."""

    def __init__(self, config: ForkServerConfig, server_fds: Callable[[], list[int]]) -> None:
        self.config = config
        self._server_fds = server_fds
        self.current: dict[str, Zygote] = {}
        self.by_pid: dict[int, Zygote] = {}

    def __bool__(self) -> bool:
        return bool(self.by_pid)

    def fds(self) -> list[int]:
        """Our ends of every zygote's pipes."""
        return [fd for z in self.by_pid.values() for fd in (z.pipe.read_fd, z.pipe.write_fd)
                if fd is not None]

    def zygote_for(self, path: str, is_busy: Callable[[Zygote], bool]) -> Zygote:
        """The zygote serving the file at ``path`` as it is now, started if need be."""
        try:
            info = os.stat(path)
        except OSError as exc:
            raise CannotStart(f"DAG file {path} cannot be read: {exc}") from None
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        zygote = self.current.get(path)
        if zygote is not None and zygote.stamp == stamp and zygote.failure is None:
            zygote.last_used = time.monotonic()
            return zygote
        if zygote is not None:
            self.retire(zygote)
        idle = [z for z in self.current.values() if not is_busy(z)]
        while len(self.current) >= MAX_ZYGOTES and idle:
            oldest = min(idle, key=lambda z: z.last_used)
            idle.remove(oldest)
            self.retire(oldest)
        zygote = self._start(path, stamp)
        self.current[path] = zygote
        self.by_pid[zygote.pid] = zygote
        return zygote

    def prepare(self, path: str) -> None:
        """Start the zygote of ``path`` ahead of its first try, where there is room: a
        zygote started ahead never retires another, and a file that cannot be read waits
        for its try to say so."""
        if path not in self.current and len(self.current) >= MAX_ZYGOTES:
            return
        with contextlib.suppress(CannotStart):
            self.zygote_for(path, is_busy=lambda _zygote: True)

    def _start(self, path: str, stamp: Stamp) -> Zygote:
        to_read, to_write = os.pipe()
        from_read, from_write = os.pipe()
        for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
            with contextlib.suppress(Exception):
                stream.flush()
        pid = os.fork()
        if pid == 0:
            run_zygote(path, to_read, from_write, self.config,
                       [to_write, from_read, *self._server_fds(), *self.fds()])
        os.close(to_read)
        os.close(from_write)
        with contextlib.suppress(OSError):  # the zygote does the same; whoever is first
            os.setpgid(pid, pid)
        now = time.monotonic()
        return Zygote(path, stamp, pid, JsonLinePipe(from_read, to_write, batched=True),
                      now + self.config.dag_import_timeout, now)

    def retire(self, zygote: Zygote) -> None:
        """Let the zygote fork what it was sent, then nothing more: it exits when done."""
        zygote.retiring = True
        if self.current.get(zygote.path) is zygote:
            del self.current[zygote.path]
        zygote.pipe.close_write_when_flushed()

    def retire_all(self) -> None:
        """Retire every zygote (the fork server is winding down)."""
        for zygote in list(self.by_pid.values()):
            self.retire(zygote)

    def failed(self, zygote: Zygote, error: str) -> None:
        """The zygote cannot serve its file: it is not handed requests any more."""
        zygote.failure = zygote.failure or error
        zygote.import_deadline = None
        self.retire(zygote)

    def ended(self, zygote: Zygote) -> None:
        """The zygote's process has been reaped."""
        self.by_pid.pop(zygote.pid, None)
        if self.current.get(zygote.path) is zygote:
            del self.current[zygote.path]
        zygote.pipe.close()

    def next_deadline(self, is_busy: Callable[[Zygote], bool]) -> float | None:
        """The earliest import deadline or end of idleness."""
        moments = [z.import_deadline for z in self.by_pid.values()
                   if z.import_deadline is not None]
        moments += [z.last_used + self.config.zygote_idle_s for z in self.current.values()
                    if z.ready and not is_busy(z)]
        return min(moments) if moments else None

    def enforce_deadlines(self, is_busy: Callable[[Zygote], bool]) -> None:
        """Kill zygotes whose import overran; retire those idle for too long."""
        now = time.monotonic()
        for zygote in list(self.by_pid.values()):
            if zygote.import_deadline is not None and now >= zygote.import_deadline:
                self.failed(zygote, (
                    f"DAG file {zygote.path} took longer than "
                    f"{self.config.dag_import_timeout:g} s to import (the [scheduler] "
                    "file_parse_timeout_s limit: an endless loop or a slow call at module "
                    "level?), so the process importing it was killed"))
                kill_group(zygote.pid, signal.SIGKILL)
                kill_pid(zygote.pid, signal.SIGKILL)
        for zygote in list(self.current.values()):
            if zygote.ready and not is_busy(zygote) \
                    and now >= zygote.last_used + self.config.zygote_idle_s:
                self.retire(zygote)
