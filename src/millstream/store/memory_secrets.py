"""Variables and connections in memory, for dag.test() and unit tests."""

from __future__ import annotations

import builtins

from millstream.exceptions import InvalidInputError
from millstream.store.memory_journal import Journal, JournaledRepo
from millstream.store.secrets_records import ConnectionRecord, VariableRecord


def _page(items: builtins.list[str], limit: int | None, offset: int) -> builtins.list[str]:
    if offset < 0:
        raise InvalidInputError(f"offset must be >= 0, got {offset}")
    if limit is not None and limit < 0:
        raise InvalidInputError(f"limit must be >= 0, got {limit}")
    ordered = sorted(items)[offset:]
    return ordered if limit is None else ordered[:limit]


class MemoryVariableRepo(JournaledRepo):
    """Variables in a dict keyed by key."""

    STATE = ("_items",)

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._items: dict[str, VariableRecord] = {}

    def get(self, key: str) -> VariableRecord | None:
        return self._items.get(key)

    def set(self, record: VariableRecord) -> None:
        self._changing()
        self._items[record.key] = record

    def delete(self, key: str) -> bool:
        self._changing()
        return self._items.pop(key, None) is not None

    def count(self) -> int:
        return len(self._items)

    def list(self, limit: int | None = None, offset: int = 0) -> builtins.list[VariableRecord]:
        return [self._items[key] for key in _page(builtins.list(self._items), limit, offset)]


class MemoryConnectionRepo(JournaledRepo):
    """Connections in a dict keyed by conn_id."""

    STATE = ("_items",)

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._items: dict[str, ConnectionRecord] = {}

    def get(self, conn_id: str) -> ConnectionRecord | None:
        return self._items.get(conn_id)

    def set(self, record: ConnectionRecord) -> None:
        self._changing()
        self._items[record.conn_id] = record

    def delete(self, conn_id: str) -> bool:
        self._changing()
        return self._items.pop(conn_id, None) is not None

    def count(self) -> int:
        return len(self._items)

    def list(self, limit: int | None = None, offset: int = 0) -> builtins.list[ConnectionRecord]:
        return [self._items[key] for key in _page(builtins.list(self._items), limit, offset)]
