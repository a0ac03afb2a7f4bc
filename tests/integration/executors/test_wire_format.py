"""What crosses the executor's process boundary: JSON workloads and events, try file paths."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest

from millstream.executors.try_processes import (
    ForkedProcess,
    TryRequest,
    started_json,
    try_files,
)
from millstream.executors.wire import (
    try_request_line,
    worker_request_line,
    workload_json_of,
    workload_line,
)
from millstream.model.states import DagRunState, TaskState
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
from millstream.runtime.events_json import MessageFormatError, from_dict, from_json, to_json
from millstream.runtime.worker import (
    metrics_path,
    path_component,
    read_result_file,
    result_path,
    try_log_path,
    write_result_file,
)
from millstream.store.records import DagRunRecord, TaskInstanceKey

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
KEY = TaskInstanceKey("etl", "scheduled__2026-03-01T00:00:00+01:00", "load", 2)


def _workload() -> TaskWorkload:
    run = DagRunRecord(
        dag_id="etl", run_id=KEY.run_id,
        logical_date=datetime(2026, 3, 1, tzinfo=AMSTERDAM),
        data_interval_start=datetime(2026, 2, 28, tzinfo=AMSTERDAM),
        data_interval_end=datetime(2026, 3, 1, tzinfo=AMSTERDAM),
        run_type="scheduled", state=DagRunState.RUNNING,
        conf={"region": "eu", "limits": [1, 2.5, None], "nested": {"ok": True}},
        queued_at=datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC),
        start_date=datetime(2026, 3, 1, 0, 0, 2, 123456, tzinfo=timezone(timedelta(hours=5))),
        note="ünïcode ✓",
    )
    return TaskWorkload(KEY, 3, 4, run, {"multiplier": 2, "name": "x"}, "/dags/etl.py")


def test_the_tries_of_one_run_carry_it_and_a_changed_run_is_encoded_anew():
    """A run's encoding is reused for its next try's workload, never for another record."""
    first = _workload()
    second = dataclasses.replace(first, key=dataclasses.replace(KEY, task_id="report"))
    ended = dataclasses.replace(first.run, state=DagRunState.SUCCESS, note="done")
    third = dataclasses.replace(first, run=ended)
    decoded = [from_json(to_json(w)) for w in (first, second, first, third)]
    assert [w.run for w in decoded[:3]] == [first.run] * 3
    assert decoded[1].key.task_id == "report"
    assert decoded[3].run == ended
    assert (decoded[3].run.state, decoded[3].run.note) == (
        DagRunState.SUCCESS, "done")


def test_a_workload_survives_the_round_trip_with_its_zones_conf_and_params():
    original = _workload()
    text = to_json(original)
    assert "\n" not in text
    copy = from_json(text)
    assert copy == original
    assert isinstance(copy, TaskWorkload)
    assert copy.run.logical_date.tzinfo == AMSTERDAM  # the zone, not only its offset
    assert copy.run.start_date is not None
    assert copy.run.start_date.utcoffset() == timedelta(hours=5)
    assert copy.run.state is DagRunState.RUNNING


def test_events_survive_the_round_trip():
    start = datetime(2026, 3, 1, 1, tzinfo=UTC)
    started = TaskStartedEvent(KEY, 3, start, "host-1", 4242)
    finished = TaskFinishedEvent(
        KEY, 3, TaskState.UP_FOR_RETRY, start, start + timedelta(seconds=2), "boom\ntrace",
        xcoms=(("return_value", '{"a":1}'), ("extra", "[1,2]")),
        skip_task_ids=("b", "c"),
    )
    assert from_json(to_json(started)) == started
    copy = from_json(to_json(finished))
    assert copy == finished
    assert isinstance(copy, TaskFinishedEvent) and copy.state is TaskState.UP_FOR_RETRY


def test_a_workload_goes_to_the_zygote_and_worker_as_the_executor_wrote_it():
    sent = workload_line(_workload()).rstrip(b"\n")
    request = try_request_line(7, sent)
    data = json.loads(request)
    assert data["id"] == 7 and data["kind"] == "try"
    assert workload_json_of(7, request, data) == sent  # the same bytes, not re-encoded
    worker_request = json.loads(worker_request_line(7, workload_json_of(7, request, data)))
    assert worker_request["id"] == 7
    assert from_dict(worker_request["workload"]) == _workload()


def test_a_try_request_laid_out_otherwise_still_yields_its_workload():
    workload = json.loads(to_json(_workload()))
    request = json.dumps({"kind": "try", "id": 3, "workload": workload}).encode()
    text = workload_json_of(3, request, json.loads(request))
    assert from_json(text) == _workload()


def test_free_form_values_must_be_json_and_the_error_names_the_field():
    workload = _workload()
    workload.params["when"] = datetime(2026, 1, 1)
    with pytest.raises(TypeError, match=r"TaskWorkload\.params must hold JSON values"):
        to_json(workload)


def test_readers_ignore_unknown_fields_and_reject_malformed_messages():
    data = json.loads(to_json(TaskStartedEvent(KEY, 1, datetime(2026, 1, 1, tzinfo=UTC))))
    data["from_a_newer_version"] = 1
    assert from_json(json.dumps(data)) == TaskStartedEvent(
        KEY, 1, datetime(2026, 1, 1, tzinfo=UTC)
    )
    with pytest.raises(MessageFormatError, match="unknown message kind"):
        from_json('{"kind": "nonsense"}')
    with pytest.raises(MessageFormatError, match="not JSON"):
        from_json("{")
    with pytest.raises(MessageFormatError, match="malformed started"):
        from_json('{"kind": "started", "key": {"dag_id": "d"}}')
    with pytest.raises(MessageFormatError, match="try_number must not be null"):
        data["try_number"] = None
        from_json(json.dumps(data))


@pytest.mark.parametrize(
    "value",
    ["manual__2026-01-01T00:00:00+00:00", "a/b", "..", ".hidden", "50%", "with space", "ü",
     ""],
)
def test_ids_become_safe_reversible_path_components(value):
    component = path_component(value)
    assert "/" not in component and ":" not in component and "+" not in component
    assert not component.startswith(".")
    assert component not in ("", ".", "..")
    if value:
        assert unquote(component) == value


def test_log_and_result_files_sit_side_by_side_per_try(tmp_path):
    log = try_log_path(tmp_path, KEY, 3)
    assert log.relative_to(tmp_path).parts == (
        "etl", "scheduled__2026-03-01T00%3A00%3A00%2B01%3A00", "load", "map_index=2", "3.log",
    )
    assert result_path(tmp_path, KEY, 3) == log.with_name("3.result.json")
    unmapped = TaskInstanceKey("etl", "r", "load")
    assert try_log_path(tmp_path, unmapped, 1).relative_to(tmp_path).parts == (
        "etl", "r", "load", "1.log",
    )


@pytest.mark.parametrize("folder", ["/var/logs", "/var/logs/", "logs", ""])
@pytest.mark.parametrize("key", [
    KEY, TaskInstanceKey("etl", "r", "load"), TaskInstanceKey("a/b", "..", ".hidden ü", 0),
])
def test_the_fork_server_names_a_try_s_files_as_the_try_does(folder, key):
    assert try_files(folder, key, 3) == (str(result_path(folder, key, 3)),
                                         str(metrics_path(folder, key, 3)))


def test_the_fork_server_s_started_event_is_the_one_to_json_writes():
    start = datetime(2026, 3, 1, 0, 0, 2, 123456, tzinfo=AMSTERDAM)
    request = TryRequest.of(json.loads(to_json(_workload())))
    assert request.workload() == _workload()
    entry = ForkedProcess(1, 10, start, request, pid=1234)
    assert started_json(entry, "host-1") == to_json(
        TaskStartedEvent(KEY, 3, start, "host-1", 1234))


@pytest.mark.parametrize("change", [
    {"try_number": "3"}, {"key": {"dag_id": "etl", "run_id": 1, "task_id": "t"}},
    {"dag_file": 5}, {"key": None},
])
def test_the_fork_server_refuses_a_workload_naming_its_try_wrongly(change):
    data = {**json.loads(to_json(_workload())), **change}
    with pytest.raises((KeyError, TypeError)):
        TryRequest.of(data)


def test_result_files_are_read_back_only_for_the_try_they_describe(tmp_path):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    event = TaskFinishedEvent(KEY, 3, TaskState.SUCCESS, start, start,
                              xcoms=(("return_value", "1"),))
    assert read_result_file(tmp_path, KEY, 3) is None
    path = write_result_file(tmp_path, event)
    assert read_result_file(tmp_path, KEY, 3) == event
    assert [p.name for p in path.parent.iterdir()] == ["3.result.json"]  # no temporary left
    path.rename(result_path(tmp_path, KEY, 4))  # a result under another try's name
    assert read_result_file(tmp_path, KEY, 4) is None
    result_path(tmp_path, KEY, 5).write_text("{not json")
    assert read_result_file(tmp_path, KEY, 5) is None
