"""The task and asset state stores in memory (for tests and dag.test())."""

from __future__ import annotations

from datetime import datetime

from millstream.model.state_retention import is_live
from millstream.store.memory_journal import Journal, JournaledRepo
from millstream.store.state_store_records import TaskStateScope

_TaskEntry = tuple[str, datetime | None]  # (value JSON, expires at)


class MemoryStateStoreRepo(JournaledRepo):
    """Task state by (scope, key), asset state by (uri, key)."""

    STATE = ("_tasks", "_assets")

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._tasks: dict[tuple[TaskStateScope, str], _TaskEntry] = {}
        self._assets: dict[tuple[str, str], str] = {}

    # -- task state -------------------------------------------------------------------------
    def get_task_state(self, scope: TaskStateScope, key: str, now: datetime) -> str | None:
        entry = self._tasks.get((scope, key))
        if entry is None or not is_live(entry[1], now):
            return None
        return entry[0]

    def set_task_state(self, scope: TaskStateScope, key: str, value_json: str,
                       expires_at: datetime | None, now: datetime) -> None:
        self._changing()
        self._tasks[(scope, key)] = (value_json, expires_at)

    def delete_task_state(self, scope: TaskStateScope, key: str) -> None:
        if (scope, key) in self._tasks:
            self._changing()
            del self._tasks[(scope, key)]

    def clear_task_state(self, scope: TaskStateScope) -> int:
        found = [k for k in self._tasks if k[0] == scope]
        if found:
            self._changing()
            for k in found:
                del self._tasks[k]
        return len(found)

    def task_state_keys(self, scope: TaskStateScope, now: datetime) -> list[str]:
        return sorted(key for (s, key), (_, expiry) in self._tasks.items()
                      if s == scope and is_live(expiry, now))

    def purge_expired(self, now: datetime) -> int:
        found = [k for k, (_, expiry) in self._tasks.items() if not is_live(expiry, now)]
        if found:
            self._changing()
            for k in found:
                del self._tasks[k]
        return len(found)

    def forget_run(self, dag_id: str, run_id: str) -> None:
        """A deleted run takes its task state with it."""
        found = [k for k in self._tasks if (k[0].dag_id, k[0].run_id) == (dag_id, run_id)]
        if found:
            self._changing()
            for k in found:
                del self._tasks[k]

    # -- asset state ------------------------------------------------------------------------
    def get_asset_state(self, uri: str, key: str) -> str | None:
        return self._assets.get((uri, key))

    def set_asset_state(self, uri: str, key: str, value_json: str, now: datetime) -> None:
        self._changing()
        self._assets[(uri, key)] = value_json

    def delete_asset_state(self, uri: str, key: str) -> None:
        if (uri, key) in self._assets:
            self._changing()
            del self._assets[(uri, key)]

    def clear_asset_state(self, uri: str) -> int:
        found = [k for k in self._assets if k[0] == uri]
        if found:
            self._changing()
            for k in found:
                del self._assets[k]
        return len(found)

    def asset_state_keys(self, uri: str) -> list[str]:
        return sorted(key for u, key in self._assets if u == uri)
