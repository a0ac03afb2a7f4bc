"""The metadata store as code running inside a task, a callback or a DAG file reaches it.

Variables, connections, ``ExternalTaskSensor`` and the like read the metadata store from
wherever they run: a task's worker process, a parsing process, a callback process, or
``dag.test()`` in the caller's own process. There is one store per process, opened the
first time something asks for it (most tasks never do, and a connection costs
milliseconds), from the settings of this process (``MILLSTREAM_HOME`` and
``MILLSTREAM__DATABASE__URL``). ``dag.test()`` and the tests put their own store in
place with :func:`using_store`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from millstream.store.interfaces import Store

_lock = threading.Lock()
_override: list[Store] = []
_opened: dict[int, Store] = {}  # by pid: a forked child must not share its parent's socket
_factory: Callable[[], Store] | None = None


def set_store_factory(factory: Callable[[], Store] | None) -> None:
    """Say how this process (and the processes it forks) open the metadata store."""
    global _factory
    with _lock:
        _factory = factory
        _opened.clear()


def current_store() -> Store:
    """The metadata store of this process, opened on first use."""
    if _override:
        return _override[-1]
    pid = os.getpid()
    with _lock:
        store = _opened.get(pid)
        if store is None:
            store = (_factory or _store_from_settings)()
            _opened.clear()
            _opened[pid] = store
        return store


@contextlib.contextmanager
def metadata_transaction() -> Iterator[Store]:
    """The metadata store of this process, inside one short transaction (or the one the
    caller already has open): what a task, sensor or trigger reads or writes, it does in
    one of these, and holds none while it waits."""
    store = current_store()
    with store.transaction():
        yield store


@contextlib.contextmanager
def using_store(store: Store) -> Iterator[Store]:
    """Within the block, :func:`current_store` in this process returns ``store``."""
    _override.append(store)
    try:
        yield store
    finally:
        _override.remove(store)


def _store_from_settings() -> Store:
    from millstream.config import load_settings
    from millstream.store.sql.store import SqlStore

    return SqlStore.from_url(load_settings().database.url)
