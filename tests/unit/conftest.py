"""Fixtures shared by the unit tests: loading the DAG files under tests/dags."""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

DAGS_DIR = Path(__file__).resolve().parents[1] / "dags"
_counter = itertools.count()


def load_dag_module(name: str) -> ModuleType:
    """Import ``tests/dags/<name>.py`` afresh, under a unique module name."""
    path = DAGS_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_dagfile_{name}_{next(_counter)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def dag_file() -> Callable[[str], ModuleType]:
    return load_dag_module
