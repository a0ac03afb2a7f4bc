"""The messages between the local executor, its fork server and the server's zygotes.

Every message is one line of JSON. Executor -> fork server: a workload (see
:mod:`millstream.runtime.events_json`), ``terminate`` (stop a running try),
``callback`` (run a DAG callback), ``kill_callbacks`` and ``prepare`` (start a DAG
file's zygote ahead of its tries, as a run starts). Fork server -> executor: the
tries' ``started`` and ``finished`` events, and ``callback_ended``.

Fork server -> zygote: ``try`` and ``callback``, each with a request id; a ``try``
carries the workload's JSON exactly as the executor sent it, and the zygote hands the
same text on to a worker, so no hop decodes and encodes it again. Zygote -> fork
server: ``ready`` (the DAG file is imported) or ``failed`` (it could not be), then
``forked`` (a request's process exists, with its pid) or ``refused`` (with why), ``ran``
(a reused worker finished a try and lives on) and ``exited`` (one of its processes
ended, with its wait status).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from millstream import observability
from millstream.runtime.dag_callbacks import SlaMiss
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
from millstream.runtime.events_json import decode_record, encode_record, from_dict, to_json
from millstream.store.records import DagRunRecord, TaskInstanceKey

CALLBACK_TIMEOUT_S = 300.0
"""How long one DAG callback may run before its process is killed."""


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """One DAG callback to run: which DAG, which callback, and what it receives."""

    callback_id: int
    dag_file: str
    dag_id: str
    event: str  # "success", "failure" or "sla_miss"
    run: DagRunRecord | None = None
    reason: str = ""
    misses: list[SlaMiss] = field(default_factory=list)
    timeout_s: float = CALLBACK_TIMEOUT_S

    @property
    def kind(self) -> str:
        """Which of the DAG's callbacks this runs, as the failed callbacks' ``kind`` label."""
        if self.event != "sla_miss":
            return f"on_{self.event}_callback"
        if self.misses and all(m.kind == "deadline" for m in self.misses):
            return "deadline_callback"
        return "sla_miss_callback"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        data: dict[str, Any] = encode_record(self)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> CallbackRequest:
        """The request :meth:`to_dict` described (raises MessageFormatError)."""
        return decode_record(cls, data)


def server_message(line: bytes) -> TaskStartedEvent | TaskFinishedEvent | int | None:
    """What a line from the fork server says: a try's event, the id of a DAG callback that
    has ended (counted here, see :func:`callback_ended`), or None (a restarted fresh
    server's ``ready``, which asks for nothing). Raises ValueError, KeyError or TypeError
    (MessageFormatError among them) for a malformed line."""
    data = json.loads(line)
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "callback_ended":
        return callback_ended(data)
    if kind == "ready":
        return None
    event = from_dict(data)
    if not isinstance(event, TaskStartedEvent | TaskFinishedEvent):
        raise TypeError(f"expected a try's event, got {type(event).__name__}")
    return event


def _line(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, separators=(",", ":")) + "\n").encode()


def workload_line(workload: TaskWorkload) -> bytes:
    """The message that asks the fork server to run ``workload``."""
    return (to_json(workload) + "\n").encode()


def prepare_line(dag_file: str) -> bytes:
    """The message that asks the fork server to start the zygote of ``dag_file`` now."""
    return _line({"kind": "prepare", "dag_file": dag_file})


def try_request_line(request_id: int, workload_json: bytes) -> bytes:
    """Fork server -> zygote: run the try whose workload (as :func:`workload_line` wrote
    it, without its newline) is ``workload_json``."""
    return b'{"id":%d,"kind":"try","workload":%s}' % (request_id, workload_json)


def workload_json_of(request_id: int, line: bytes, data: dict[str, Any]) -> bytes:
    """The workload's JSON text in a ``try`` request ``line`` (``data``: the line decoded):
    the very bytes :func:`try_request_line` wrapped, else the workload encoded anew."""
    head = b'{"id":%d,"kind":"try","workload":' % request_id
    if line.startswith(head) and line.endswith(b"}"):
        return line[len(head):-1]
    return json.dumps(data["workload"], separators=(",", ":")).encode()


def worker_request_line(request_id: int, workload_json: bytes) -> bytes:
    """Zygote -> worker: run this try next (the worker's request, see
    :mod:`millstream.executors.try_worker`)."""
    return b'{"id":%d,"workload":%s}' % (request_id, workload_json)


def terminate_line(key: TaskInstanceKey, try_number: int) -> bytes:
    """The message that asks the fork server to stop a running try."""
    return _line({
        "kind": "terminate",
        "key": {"dag_id": key.dag_id, "run_id": key.run_id, "task_id": key.task_id,
                "map_index": key.map_index},
        "try_number": try_number,
    })


def key_of_terminate(data: dict[str, Any]) -> tuple[TaskInstanceKey, int]:
    """The try a ``terminate`` message names."""
    raw = data["key"]
    key = TaskInstanceKey(raw["dag_id"], raw["run_id"], raw["task_id"], int(raw["map_index"]))
    return key, int(data["try_number"])


def callback_line(request: CallbackRequest) -> bytes:
    """The message that asks the fork server to run a DAG callback."""
    return _line({"kind": "callback", "callback": request.to_dict()})


KILL_CALLBACKS_LINE = _line({"kind": "kill_callbacks"})
"""The message that asks the fork server to kill every callback still running."""


def callback_ended_message(request: CallbackRequest, error: str | None,
                           metrics: list[str] | None = None) -> dict[str, Any]:
    """What the fork server says when a callback's process has ended: ``error`` if it did
    not end well (killed, crashed, never started), and what it counted (``metrics``: its
    callbacks that raised, task code's figures)."""
    return {"kind": "callback_ended", "callback_id": request.callback_id,
            "dag_id": request.dag_id, "callback": request.kind, "error": error,
            "metrics": list(metrics or ())}


def callback_ended(message: dict[str, Any]) -> int:
    """Take in a ``callback_ended`` message in the scheduler's process: count what the
    callback's process reported, and one failed callback if the process itself failed
    (what it ran is unknown then); returns the callback's id."""
    observability.callback_process_ended(
        str(message.get("dag_id") or ""), str(message.get("callback") or ""),
        bool(message.get("error")), tuple(str(m) for m in message.get("metrics") or ()))
    return int(message["callback_id"])
