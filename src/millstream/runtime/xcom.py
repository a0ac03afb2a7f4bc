"""XCom values: JSON encoding with a size limit, and the reader a running task pulls through."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from millstream.exceptions import XComError
from millstream.model.limits import Limits, json_depth, limits_in_force

if TYPE_CHECKING:
    from millstream.store.interfaces import Store

MAX_XCOM_BYTES = Limits.max_xcom_bytes
"""The default of ``[limits] max_xcom_bytes``."""


class XComReader(Protocol):
    """Read access to the XComs of a run, as a running task needs it."""

    def get_xcom(
        self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str
    ) -> str | None:
        """The JSON text stored for one task instance and key, or None."""

    def get_mapped_xcoms(self, dag_id: str, run_id: str, task_id: str, key: str) -> list[str]:
        """The JSON texts of every map index of a task for ``key``, in map-index order."""


class LazyXComReader:
    """Builds the real reader (e.g. a database connection) only when a task first pulls.

    Most tasks never pull, and opening a connection in every try would cost milliseconds.
    """

    def __init__(self, factory: Callable[[], XComReader]) -> None:
        self._factory = factory
        self._reader: XComReader | None = None

    def _get(self) -> XComReader:
        if self._reader is None:
            self._reader = self._factory()
        return self._reader

    def get_xcom(
        self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str
    ) -> str | None:
        return self._get().get_xcom(dag_id, run_id, task_id, map_index, key)

    def get_mapped_xcoms(self, dag_id: str, run_id: str, task_id: str, key: str) -> list[str]:
        return self._get().get_mapped_xcoms(dag_id, run_id, task_id, key)


class StoreXComReader:
    """Reads a store's XComs, each read in a short transaction of its own: a try holds no
    transaction open while its task runs."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get_xcom(
        self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str
    ) -> str | None:
        with self._store.transaction():
            return self._store.xcoms.get_xcom(dag_id, run_id, task_id, map_index, key)

    def get_mapped_xcoms(self, dag_id: str, run_id: str, task_id: str, key: str) -> list[str]:
        with self._store.transaction():
            return self._store.xcoms.get_mapped_xcoms(dag_id, run_id, task_id, key)


def encode_xcom(value: Any, task_id: str, key: str, limit: int | None = None) -> str:
    """``value`` as JSON text, or an XComError naming the task and key.

    ``limit`` defaults to ``[limits] max_xcom_bytes``; the nesting is bounded by
    ``[limits] max_json_depth``, so that every page that shows the value can render it."""
    limits = limits_in_force()
    limit = limits.max_xcom_bytes if limit is None else limit
    if json_depth(value, limits.max_json_depth) > limits.max_json_depth:
        raise XComError(f"task {task_id!r}: XCom {key!r} nests deeper than "
                        f"{limits.max_json_depth} levels ([limits] max_json_depth)")
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise XComError(
            f"task {task_id!r}: XCom {key!r} must be JSON-serializable "
            f"(str, number, bool, None, list, dict): {exc}"
        ) from None
    if len(text) > limit:
        raise XComError(
            f"task {task_id!r}: XCom {key!r} is {len(text)} bytes, over the limit of {limit} "
            "([limits] max_xcom_bytes); "
            "store large data in files or tables and pass their location instead"
        )
    return text


def decode_xcom(text: str | None) -> Any:
    return None if text is None else json.loads(text)
