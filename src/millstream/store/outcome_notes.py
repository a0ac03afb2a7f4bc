"""Outcome notes: a worker's word that it recorded a try's start or end in the store.

Sent over PostgreSQL ``NOTIFY`` (:mod:`millstream.store.sql.notify`) to wake schedulers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from millstream.store.records import TaskInstanceKey

MAX_PAYLOAD = 7900
"""PostgreSQL refuses payloads of 8000 bytes or more: a longer list of changed tasks is
replaced by "all of them"."""


@dataclass(frozen=True, slots=True)
class OutcomeNote:
    """A try started, or ended with ``state``, and was recorded by a worker.

    ``changed``: the tasks of the run whose readiness may have changed (None: any).
    """

    key: TaskInstanceKey
    try_number: int
    state: str
    changed: tuple[str, ...] | None = None

    def to_payload(self) -> str:
        """The notification's payload (JSON), short enough for PostgreSQL."""
        data: dict[str, Any] = {"d": self.key.dag_id, "r": self.key.run_id,
                                "t": self.key.task_id, "m": self.key.map_index,
                                "n": self.try_number, "s": self.state,
                                "c": list(self.changed) if self.changed is not None else None}
        text = json.dumps(data, separators=(",", ":"))
        if len(text.encode()) > MAX_PAYLOAD:
            data["c"] = None
            text = json.dumps(data, separators=(",", ":"))
        return text

    @classmethod
    def from_payload(cls, text: str) -> OutcomeNote:
        """Parse a payload; ValueError (or KeyError, TypeError) when it is not one."""
        data = json.loads(text)
        changed = data.get("c")
        return cls(TaskInstanceKey(str(data["d"]), str(data["r"]), str(data["t"]),
                                   int(data["m"])),
                   int(data["n"]), str(data["s"]),
                   tuple(str(c) for c in changed) if changed is not None else None)
