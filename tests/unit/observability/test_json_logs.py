"""The JSON log formatter: one object a line, extras and tracebacks included."""

from __future__ import annotations

import json
import logging
import sys

from millstream.observability.logs import JsonFormatter, TryLabels


def _record(message: str, exc_info: object = None, **extra: object) -> logging.LogRecord:
    args = ("x",) if "%s" in message else ()
    record = logging.LogRecord("etl", logging.WARNING, __file__, 1, message, args,
                               exc_info)  # type: ignore[arg-type]
    for name, value in extra.items():
        setattr(record, name, value)
    return record


def test_a_record_is_one_json_line_with_its_extras() -> None:
    line = JsonFormatter().format(_record("loaded %s rows\nand more", rows=3))
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "loaded x rows\nand more"
    assert (data["level"], data["logger"], data["rows"]) == ("WARNING", "etl", 3)
    assert data["timestamp"].endswith("+00:00")


def test_the_traceback_is_a_field() -> None:
    try:
        raise ValueError("bad row")
    except ValueError:
        record = _record("failed", exc_info=sys.exc_info())
    data = json.loads(JsonFormatter().format(record))
    assert data["exception"].startswith("Traceback") and "ValueError: bad row" in data["exception"]


def test_try_labels_do_not_override_what_a_record_says() -> None:
    labels = TryLabels({"dag_id": "d", "task_id": "t", "try_number": 2})
    record = _record("hello", task_id="own")
    assert labels.filter(record)
    data = json.loads(JsonFormatter().format(record))
    assert (data["dag_id"], data["task_id"], data["try_number"]) == ("d", "own", 2)
