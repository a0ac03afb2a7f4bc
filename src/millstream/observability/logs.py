"""Log formats: text, or one JSON object a line (``[logging] format = "json"``).

A JSON line holds the time (ISO 8601, UTC), level, logger, message, the exception's
traceback if any, and every extra attribute given to the record. In a try's log every
record also carries the try's ``dag_id``, ``run_id``, ``task_id``, ``try_number`` and
``map_index`` (:func:`label_task_log`): as fields in JSON, and in text as a bracketed
field after the time::

    [2026-01-02 00:00:05,120] {dag=etl run=manual__1 task=load try=1} INFO etl: loaded 3 rows

(``map=<index>`` follows ``task=`` for a mapped task's instance.)
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from millstream.config import Settings

SERVICE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TRY_TEXT_FORMAT = "[%(asctime)s] {{{identity}}} %(levelname)s %(name)s: %(message)s"
"""A try's text log line; ``identity`` is :func:`try_identity`'s."""
TRY_FIELDS = ("dag_id", "run_id", "task_id", "try_number", "map_index")
# Attributes every LogRecord has: anything else on a record was given as an extra.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                data[name] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, default=str, ensure_ascii=False)


class TryLabels(logging.Filter):
    """Puts the try's identity on every record that passes through the handler."""

    def __init__(self, labels: dict[str, Any]) -> None:
        super().__init__()
        self.labels = labels

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in self.labels.items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def formatter(settings: Settings | None, text_format: str = SERVICE_FORMAT) -> logging.Formatter:
    """The formatter ``[logging] format`` asks for."""
    if settings is not None and settings.logging.format == "json":
        return JsonFormatter()
    return logging.Formatter(text_format)


_format = "text"


def log_format() -> str:
    """The format of the try logs of the tries this process forks: "text" or "json"."""
    return _format


def set_log_format(name: str) -> None:
    """"text" or "json": the format of the try logs of the tries this process forks."""
    global _format
    if name not in ("text", "json"):
        raise ValueError(f"unknown log format {name!r}; allowed: text, json")
    _format = name


def setup_logging(settings: Settings) -> None:
    """Log to stderr at ``[logging] level`` in ``[logging] format`` (a service's start)."""
    set_log_format(settings.logging.format)
    logging.basicConfig(level=settings.logging.level, format=SERVICE_FORMAT)
    if _format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())


def try_labels(key: Any, try_number: int) -> dict[str, Any]:
    """The fields that name one try (``key``: its task instance's key)."""
    return {"dag_id": key.dag_id, "run_id": key.run_id, "task_id": key.task_id,
            "try_number": try_number, "map_index": key.map_index}


def try_identity(labels: dict[str, Any]) -> str:
    """The try's identity as its text log lines show it: ``dag=etl run=manual__1 task=load
    try=1``, with ``map=<index>`` after the task for a mapped instance."""
    mapped = f" map={labels['map_index']}" if labels["map_index"] >= 0 else ""
    return (f"dag={labels['dag_id']} run={labels['run_id']} task={labels['task_id']}"
            f"{mapped} try={labels['try_number']}")


def try_formatter(labels: dict[str, Any]) -> logging.Formatter:
    """The formatter of one try's log records, in this process's log format."""
    if _format == "json":
        return JsonFormatter()
    identity = try_identity(labels).replace("%", "%%")  # a run id may hold a '%'
    return logging.Formatter(TRY_TEXT_FORMAT.format(identity=identity))


def try_log_line(labels: dict[str, Any], level: int, logger: str, message: str) -> str:
    """One line (or more, for a multi-line message) for a try's log, written by the
    process watching it rather than by the try itself, formatted as the try's own."""
    record = logging.LogRecord(logger, level, __file__, 0, message, None, None)
    TryLabels(labels).filter(record)
    return try_formatter(labels).format(record)


def label_task_log(workload: Any) -> None:
    """In a try's process: every record of its log carries the try's identity (fields in
    JSON, a bracketed prefix in text), in the format of the service that forked it."""
    labels = try_labels(workload.key, workload.try_number)
    for handler in logging.getLogger().handlers:
        handler.addFilter(TryLabels(labels))
        handler.setFormatter(try_formatter(labels))
