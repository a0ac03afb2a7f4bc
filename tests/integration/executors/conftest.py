"""Fixtures for the local executor tests: a DAG file on disk, executors stopped afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from millstream.executors.local import LocalExecutor
from millstream.runtime.xcom import XComReader

from .helpers import DAG_SOURCE, ExecutorFactory, memory_reader


@pytest.fixture
def dag_file(tmp_path: Path) -> Path:
    path = tmp_path / "dags" / "executor_tasks.py"
    path.parent.mkdir()
    path.write_text(DAG_SOURCE)
    return path


@pytest.fixture
def log_folder(tmp_path: Path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
def make_executor(log_folder: Path) -> Iterator[ExecutorFactory]:
    """Started executors, each stopped (running tries killed) when the test ends."""
    made: list[LocalExecutor] = []

    def make(parallelism: int = 4,
             reader_factory: Callable[[], XComReader] = memory_reader,
             **options: Any) -> LocalExecutor:
        executor = LocalExecutor(parallelism, log_folder, reader_factory, **options)
        executor.start()
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.stop(timeout=5.0, kill=True)
