"""What the fork server and its zygotes need to know, and the limits they apply."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from millstream.parsing.processor import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S

if TYPE_CHECKING:
    from millstream.runtime.xcom import XComReader
    from millstream.store.interfaces import Store

TIMEOUT_GRACE_S = 2.0
"""How long past its execution_timeout a try may run before its process group is killed."""

TERMINATE_GRACE_S = 2.0
"""How long a try asked to terminate (SIGTERM) has before SIGKILL."""

SERVER_START_S = 60.0
"""How long the executor waits for a fresh fork server to be warm before going on."""

EXIT_FLUSH_TIMEOUT_S = 5.0
"""How long an exiting process waits for its reader to take its last messages."""

ZYGOTE_IDLE_S = 300.0
"""How long a zygote with nothing running is kept for the next try of its DAG file."""

MAX_ZYGOTES = 32
"""How many zygotes may live at once; past that the least recently used idle one goes."""

TRIES_PER_PROCESS = 1000
"""How many tries a worker process runs before it is replaced (1: a process per try).

Each worker runs up to a tenth more (:func:`tries_for_a_worker`), so that workers started
together are not all replaced together."""


def tries_for_a_worker(tries_per_process: int) -> int:
    """How many tries one worker runs: ``tries_per_process`` and up to a tenth more, drawn
    for each worker (gunicorn's ``max_requests_jitter``). A replacement costs a fork and a
    first try several times slower than the next ones; all at once, it stalls the slots."""
    return tries_per_process + random.randrange(tries_per_process // 10 + 1)

WORKER_MEMORY_GROWTH_MB = 512
"""A worker whose resident memory has grown by more than this since it started is replaced."""

WORKER_IDLE_S = 60.0
"""How long a worker with no try to run is kept for the next try of its DAG file."""


@dataclass(frozen=True, slots=True)
class ForkServerConfig:
    """What the fork server needs: pickled to a fresh interpreter when it can be, else
    inherited through ``fork`` (see :mod:`millstream.executors.forkserver_main`).

    ``dag_import_timeout`` and ``dag_import_memory_mb`` bound the import of one DAG file
    in its zygote, as ``[scheduler] file_parse_timeout_s`` and ``file_parse_memory_mb``
    bound it in the parser. ``tries_per_process`` and ``worker_memory_growth_mb`` are the
    ``[executor]`` settings: how many tries a worker runs, and the growth of its resident
    memory past which it is replaced (:mod:`millstream.executors.try_worker`).

    ``tries_outlive_executor``: whether running tries go on when the executor's process
    dies. A scheduler's do (a restarted scheduler adopts their outcomes from their result
    files); a ``millstream worker``'s do not, since nothing on that machine would record
    their outcome and the scheduler retries them elsewhere once their heartbeats stop.
    """

    log_folder: Path
    reader_factory: Callable[[], XComReader]
    clock: Callable[[], datetime]
    dag_import_timeout: float = DEFAULT_TIMEOUT_S
    dag_import_memory_mb: int = DEFAULT_MEMORY_MB
    zygote_idle_s: float = ZYGOTE_IDLE_S
    tries_per_process: int = TRIES_PER_PROCESS
    worker_memory_growth_mb: int = WORKER_MEMORY_GROWTH_MB
    worker_idle_s: float = WORKER_IDLE_S
    # How tries open the metadata store (variables, connections), if not from settings.
    store_factory: Callable[[], Store] | None = None
    tries_outlive_executor: bool = True

    def __post_init__(self) -> None:
        for name in ("tries_per_process", "worker_memory_growth_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    @property
    def reuses_workers(self) -> bool:
        """Whether a worker process may run more than one try."""
        return self.tries_per_process > 1
