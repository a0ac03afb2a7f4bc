"""Zygotes started ahead (ZygotePool.prepare) never push out another or start twice.

The pools here hold stand-ins for running zygotes (real pipes, no processes): a prepare
that would start a zygote forks, and the tests assert that these ones do not.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from millstream.executors.fork_config import MAX_ZYGOTES, ForkServerConfig
from millstream.executors.process_tools import JsonLinePipe
from millstream.executors.zygote_pool import Zygote, ZygotePool
from millstream.store.memory import MemoryXComRepo


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[ZygotePool]:
    config = ForkServerConfig(tmp_path / "logs", MemoryXComRepo, lambda: datetime.now(UTC))
    made = ZygotePool(config, lambda: [])
    yield made
    for zygote in made.by_pid.values():
        zygote.pipe.close()


def _stand_in(pool: ZygotePool, path: Path, pid: int, last_used: float = 0.0) -> Zygote:
    """A ready zygote of ``path`` as it is now, with no process behind it."""
    info = path.stat()
    read_fd, write_fd = os.pipe()
    zygote = Zygote(str(path), (info.st_mtime_ns, info.st_size, info.st_ino), pid,
                    JsonLinePipe(read_fd, write_fd), None, last_used, ready=True)
    pool.current[str(path)] = zygote
    pool.by_pid[pid] = zygote
    return zygote


def test_preparing_a_file_whose_zygote_is_current_starts_nothing(
    pool: ZygotePool, tmp_path: Path,
) -> None:
    path = tmp_path / "ready.py"
    path.write_text("")
    zygote = _stand_in(pool, path, pid=10**7)
    pool.prepare(str(path))
    assert pool.current == {str(path): zygote} and list(pool.by_pid) == [10**7]
    assert zygote.last_used > 0  # kept warm: its idle time starts again


def test_preparing_with_every_place_taken_neither_starts_nor_retires_a_zygote(
    pool: ZygotePool, tmp_path: Path,
) -> None:
    for number in range(MAX_ZYGOTES):  # all idle: a try would retire the oldest
        path = tmp_path / f"dag_{number}.py"
        path.write_text("")
        _stand_in(pool, path, pid=10**7 + number)
    before = dict(pool.current)
    newcomer = tmp_path / "newcomer.py"
    newcomer.write_text("")
    pool.prepare(str(newcomer))
    assert pool.current == before
    assert not any(zygote.retiring for zygote in pool.by_pid.values())


def test_preparing_a_file_that_cannot_be_read_starts_nothing(
    pool: ZygotePool, tmp_path: Path,
) -> None:
    pool.prepare(str(tmp_path / "absent.py"))
    assert not pool.current and not pool.by_pid
