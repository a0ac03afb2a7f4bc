"""Caps on a process that imports users' DAG files: its memory, and its life past its parent's.

The parser's workers and the executor's zygotes import DAG files under the same caps, so
a file that eats memory fails the same way wherever it is imported.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def cap_memory(memory_mb: int) -> int | None:
    """Let this process's address space grow by at most ``memory_mb`` from where it is now.

    Returns the soft limit it had before (for :func:`restore_memory_limit`), or None when
    no cap could be set here (the caller's timeout still applies).
    """
    try:
        import resource
    except ImportError:  # not on this platform
        return None
    try:
        with open("/proc/self/statm") as handle:
            current = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        current = 0
    limit = current + memory_mb * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        return None
    return soft


def restore_memory_limit(previous_soft: int | None) -> None:
    """Lift the cap :func:`cap_memory` set back to the soft limit it returned."""
    if previous_soft is None:
        return
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (previous_soft, hard))


def die_with_parent() -> None:
    """On Linux, have the kernel kill this process (SIGKILL) when its parent dies."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def adopt_orphaned_descendants() -> bool:
    """On Linux, become the parent of descendants whose own parent dies; True if done.

    A process that forks workers which fork further can then still reap (and learn the
    exit status of) a grandchild whose parent was killed.
    """
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def end_descendants(rounds: int = 20) -> int:
    """Kill and reap every child of this process, and the descendants that become its
    children as their parents die (with :func:`adopt_orphaned_descendants`); returns how
    many were ended. Only Linux lists children; elsewhere nothing is done."""
    ended = 0
    for _ in range(rounds):
        children = _children()
        if not children:
            break
        for pid in children:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for pid in children:
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
        ended += len(children)
    return ended


def _children() -> list[int]:
    """The pids of this process's children, from /proc (empty where there is none)."""
    found: set[int] = set()
    try:
        threads = os.listdir("/proc/self/task")
    except OSError:
        return []
    for thread in threads:
        with contextlib.suppress(OSError, ValueError), \
                open(f"/proc/self/task/{thread}/children") as handle:
            found.update(int(pid) for pid in handle.read().split())
    return sorted(found)


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False
