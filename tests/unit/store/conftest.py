"""The stores every contract test runs against.

Each parameter of the ``store`` fixture is one implementation of
``millstream.store.interfaces.Store``; a new implementation (SQLite, PostgreSQL) is
added to ``STORE_FACTORIES`` and the whole contract runs against it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from millstream.store.interfaces import Store
from millstream.store.memory import MemoryStore


def _memory() -> Iterator[Store]:
    yield MemoryStore()


STORE_FACTORIES: dict[str, Callable[[], Iterator[Store]]] = {
    "memory": _memory,
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh, empty store of each implementation in turn."""
    yield from STORE_FACTORIES[request.param]()
