"""XCom values: JSON encoding with a size limit, and the reader a running task pulls through."""

from __future__ import annotations

import json
from typing import Any, Protocol

from millstream.exceptions import XComError

MAX_XCOM_BYTES = 1024 * 1024


class XComReader(Protocol):
    """Read access to the XComs of a run, as a running task needs it."""

    def get_xcom(
        self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str
    ) -> str | None:
        """The JSON text stored for one task instance and key, or None."""

    def get_mapped_xcoms(self, dag_id: str, run_id: str, task_id: str, key: str) -> list[str]:
        """The JSON texts of every map index of a task for ``key``, in map-index order."""


def encode_xcom(value: Any, task_id: str, key: str, limit: int = MAX_XCOM_BYTES) -> str:
    """``value`` as JSON text, or an XComError naming the task and key."""
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise XComError(
            f"task {task_id!r}: XCom {key!r} must be JSON-serializable "
            f"(str, number, bool, None, list, dict): {exc}"
        ) from None
    if len(text) > limit:
        raise XComError(
            f"task {task_id!r}: XCom {key!r} is {len(text)} bytes, over the limit of {limit}; "
            "store large data in files or tables and pass their location instead"
        )
    return text


def decode_xcom(text: str | None) -> Any:
    return None if text is None else json.loads(text)
