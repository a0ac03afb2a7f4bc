"""XCom values: JSON encoding with a size limit, and the reader a running task pulls through.

A value that holds a secret the try knows (a connection password or secret variable the
task read, a value it registered with ``mask_secret()``, a field under a secret-sounding
name) is stored sealed: the value Fernet-encrypted, beside the form the API and the UI
show, with those secrets as ``***``. Tasks that pull it get the value; no page shows it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from millstream.exceptions import XComError
from millstream.model.limits import Limits, json_depth, limits_in_force
from millstream.secrets import crypto
from millstream.secrets.errors import FernetKeyError
from millstream.secrets.masking import redact

if TYPE_CHECKING:
    from millstream.store.interfaces import Store

log = logging.getLogger("millstream.xcom")

MAX_XCOM_BYTES = Limits.max_xcom_bytes
"""The default of ``[limits] max_xcom_bytes``."""

SEALED = "__millstream_sealed_xcom__"
"""The one key of a sealed XCom's JSON object: ``{SEALED: {"sealed": ..., "shown": ...}}``."""


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
    return _sealed_if_secret(value, text, task_id, key)


def _sealed_if_secret(value: Any, text: str, task_id: str, key: str) -> str:
    shown = redact(value, key)
    if shown == value:
        return text
    try:
        sealed = crypto.encrypt(text, f"XCom {key!r} of task {task_id!r}")
    except FernetKeyError as exc:
        log.warning("XCom %r of task %r holds a secret but is stored as it is: %s",
                    key, task_id, exc)
        return text
    return json.dumps({SEALED: {"sealed": sealed, "shown": shown}}, separators=(",", ":"))


def _sealed_part(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict) and len(value) == 1:
        part = value.get(SEALED)
        if isinstance(part, dict):
            return part
    return None


def decode_xcom(text: str | None) -> Any:
    """The value of stored XCom text, a sealed one decrypted (tasks and the scheduler)."""
    if text is None:
        return None
    value = json.loads(text)
    part = _sealed_part(value)
    if part is None:
        return value
    return json.loads(crypto.decrypt(str(part.get("sealed")), "a sealed XCom value"))


def shown_xcom(value: Any) -> Any:
    """What the API and the UI show of a parsed stored XCom: for a sealed one, its form
    with the secrets masked; any other value as it is."""
    part = _sealed_part(value)
    return value if part is None else part.get("shown")
