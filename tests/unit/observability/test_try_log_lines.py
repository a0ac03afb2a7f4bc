"""A try's text log lines name the try (DAG, run, task, map index, try) in one bracketed
field, and lines written for it by the process that watched it look the same."""

from __future__ import annotations

import json
import logging
import re

from millstream.observability import logs
from millstream.store.records import TaskInstanceKey

LINE = re.compile(r"^\[(?P<time>[^\]]+)\] \{(?P<identity>[^}]*)\} (?P<level>[A-Z]+) "
                  r"(?P<logger>[\w.]+): (?P<message>.*)$")


def _format(labels: dict[str, object], message: str, *args: object) -> str:
    record = logging.LogRecord("etl", logging.INFO, __file__, 1, message, args, None)
    logs.TryLabels(labels).filter(record)
    return logs.try_formatter(labels).format(record)


def test_a_text_line_names_the_try_in_a_bracketed_field() -> None:
    labels = logs.try_labels(TaskInstanceKey("etl", "manual__2026-01-01T00:00:00+00:00",
                                             "load"), 2)
    match = LINE.match(_format(labels, "loaded %d rows", 3))
    assert match, _format(labels, "loaded %d rows", 3)
    assert match["identity"] == "dag=etl run=manual__2026-01-01T00:00:00+00:00 task=load try=2"
    assert (match["level"], match["logger"], match["message"]) == ("INFO", "etl",
                                                                   "loaded 3 rows")


def test_a_mapped_instance_shows_its_index_and_a_percent_in_a_run_id_is_kept() -> None:
    labels = logs.try_labels(TaskInstanceKey("etl", "manual__100%_sure", "load", 7), 1)
    match = LINE.match(_format(labels, "hello"))
    assert match
    assert match["identity"] == "dag=etl run=manual__100%_sure task=load map=7 try=1"


def test_a_line_written_for_the_try_has_its_identity_in_either_format() -> None:
    labels = logs.try_labels(TaskInstanceKey("etl", "r1", "load"), 3)
    text = logs.try_log_line(labels, logging.ERROR, "millstream.executor", "killed")
    match = LINE.match(text)
    assert match and match["identity"] == "dag=etl run=r1 task=load try=3", text
    assert (match["level"], match["message"]) == ("ERROR", "killed")

    logs.set_log_format("json")
    try:
        data = json.loads(logs.try_log_line(labels, logging.ERROR, "millstream.executor",
                                            "killed"))
    finally:
        logs.set_log_format("text")
    assert (data["dag_id"], data["run_id"], data["task_id"], data["try_number"],
            data["map_index"], data["level"], data["message"]) == (
        "etl", "r1", "load", 3, -1, "ERROR", "killed")
