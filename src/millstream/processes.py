"""Facts about operating-system processes on this host.

The scheduler asks them of a task's worker and the triggerer of another triggerer on the same
host, to tell a process that is gone from one that is only slow; both sit above this module.
"""

from __future__ import annotations

import os


def process_exists(pid: int) -> bool:
    """Whether a process with this id exists on this host (a zombie child counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
