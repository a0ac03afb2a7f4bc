"""A task try's page: its log (tail, pieces for live updates, download), tries, XComs, and
the rendered templates a worker process recorded."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from millstream.model.states import TaskState
from millstream.runtime.events import TaskStartedEvent, TaskWorkload
from millstream.runtime.worker import (
    read_result_file,
    rendered_path,
    run_try_in_this_process,
    try_log_path,
)
from millstream.scheduler.events import apply_finished, apply_started
from millstream.secrets.connection import Connection
from millstream.secrets.service import set_connection
from millstream.services import runs
from millstream.store.memory import MemoryXComRepo
from millstream.store.records import TaskInstanceKey, TaskInstanceRecord
from millstream.store.sql import SqlStore
from millstream.ui.logs import TAIL_BYTES
from tests.integration.ui.conftest import Seeded
from tests.integration.ui.ui_helpers import UiEnv, load_dags, run_query


def start_manual_try(store: SqlStore, key: TaskInstanceKey) -> TaskInstanceRecord:
    """Take a finished instance to a new running try, as ``millstream tasks run --force``."""
    now = datetime.now(UTC)
    ti = runs.claim_for_manual_try(store, key, "tests", now, force=True)
    with store.transaction():
        apply_started(store, TaskStartedEvent(key, ti.try_number, now, "worker-1", 4242))
    running = store.task_instances.get(key)
    assert running is not None and running.state is TaskState.RUNNING
    return running


def test_a_worker_try_shows_its_log_and_rendered_templates(ui: UiEnv, seeded: Seeded) -> None:
    run_id = seeded.etl_runs[0]
    key = TaskInstanceKey("ui_etl", run_id, "load")
    store = ui.store()
    ti = start_manual_try(store, key)
    run = store.runs.get("ui_etl", run_id)
    assert run is not None and ti.try_number == 2
    dag = load_dags().dags["ui_etl"]
    workload = TaskWorkload(key, ti.try_number, ti.max_tries, run, {"n": 3}, dag.fileloc)
    pid = os.fork()
    if pid == 0:  # the try's own process, as the local executor's fork server makes it
        code = 70
        try:
            code = run_try_in_this_process(dag.task_dict["load"], workload, ui.log_folder,
                                           MemoryXComRepo)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    event = read_result_file(ui.log_folder, key, ti.try_number)
    assert event is not None and event.state is TaskState.SUCCESS
    with store.transaction():
        apply_finished(store, dag, event)

    page = ui.get("viewer", f"/dags/ui_etl/task?{run_query(run_id, task_id='load')}").text
    assert "loading 2026-01-01 n=3" in page  # the log of try 2, the latest
    assert 'data-finished="true"' in page
    assert "echo loading 2026-01-01 n=3" in page  # bash_command as rendered
    assert 'data-try="1"' in page and 'data-try="2"' in page
    first = ui.get("viewer", "/dags/ui_etl/task", run_id=run_id, task_id="load", **{"try": 1})
    assert "No log file for try 1 on this web server" in first.text
    assert "Not recorded for this try" in first.text


def test_the_log_is_followed_from_an_offset_while_the_try_runs(ui: UiEnv, seeded: Seeded) -> None:
    run_id = seeded.etl_runs[1]
    key = TaskInstanceKey("ui_etl", run_id, "extract")
    store = ui.store()
    ti = start_manual_try(store, key)
    path = try_log_path(ui.log_folder, key, ti.try_number)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("first line\n", encoding="utf-8")
    page = ui.get("viewer", f"/dags/ui_etl/task?{run_query(run_id, task_id='extract')}").text
    assert 'data-finished="false"' in page and 'data-offset="11"' in page
    assert "first line" in page
    with path.open("a", encoding="utf-8") as file:
        file.write("second ✓ line\n")
    url = "/ui/api/dags/ui_etl/log"
    piece = ui.get("viewer", url, run_id=run_id, task_id="extract", offset=11).json()
    assert piece["text"] == "second ✓ line\n"
    assert (piece["finished"], piece["state"], piece["offset"]) == (False, "running",
                                                                     piece["size"])
    assert ui.get("viewer", url, run_id=run_id, task_id="extract",
                  offset=piece["offset"]).json()["text"] == ""
    with store.transaction():
        current = store.task_instances.get(key)
        assert current is not None
        current = store.task_instances.set_state(current, TaskState.SUCCESS,
                                                 end_date=datetime.now(UTC))
    done = ui.get("viewer", url, run_id=run_id, task_id="extract", offset=piece["offset"]).json()
    assert done["finished"] is True and done["state"] == "success"
    whole = ui.get("viewer", url, run_id=run_id, task_id="extract", download=1)
    assert whole.status_code == 200 and whole.text == "first line\nsecond ✓ line\n"
    assert "attachment" in whole.headers["content-disposition"]


def test_a_long_log_shows_its_tail(ui: UiEnv, seeded: Seeded) -> None:
    run_id = seeded.etl_runs[2]
    key = TaskInstanceKey("ui_etl", run_id, "extract")
    path = try_log_path(ui.log_folder, key, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"line {n:06d}\n" for n in range(TAIL_BYTES // 12 * 2)]
    path.write_text("".join(lines), encoding="utf-8")
    page = ui.get("viewer", f"/dags/ui_etl/task?{run_query(run_id, task_id='extract')}").text
    assert "Showing the last part of the log" in page
    assert lines[-1].strip() in page and lines[0].strip() not in page
    shown = page.split('id="log"')[1].split("</pre>")[0].split(">", 1)[1]
    assert shown.startswith("line ")  # cut on a whole line


def test_xcoms_tries_and_mapped_instances(ui: UiEnv, seeded: Seeded) -> None:
    run_id = seeded.etl_runs[0]
    extract = ui.get("viewer", f"/dags/ui_etl/task?{run_query(run_id, task_id='extract')}").text
    assert "return_value" in extract and "&#34;rows&#34;: [" in extract
    mapped = ui.get("viewer", f"/dags/ui_etl/task?{run_query(run_id, task_id='square')}").text
    assert 'id="mapped-instances"' in mapped and mapped.count('class="ti-state"') == 3
    one = ui.get("viewer", f"/dags/ui_etl/task?{run_query(run_id, task_id='square', map_index=2)}")
    assert "square[2]" in one.text and "<pre class=\"json\">9</pre>" in one.text
    query = run_query(seeded.failed_run, task_id="explode")
    failed = ui.get("viewer", f"/dags/ui_failing/task?{query}").text
    assert "the warehouse is on fire" in failed and 'id="ti-error"' in failed


def test_a_stored_secret_a_task_returned_shows_as_stars_on_its_page(ui: UiEnv,
                                                                    seeded: Seeded) -> None:
    run_id = seeded.etl_runs[0]
    store = ui.store()
    set_connection(store, Connection("warehouse", "postgres", password="wh-pass-4711"),
                   "tests", datetime.now(UTC))
    store.xcoms.set_many(TaskInstanceKey("ui_etl", run_id, "extract"),
                         [("dsn", json.dumps("postgres://etl:wh-pass-4711@db/sales"))])
    page = ui.get("viewer", f"/dags/ui_etl/task?{run_query(run_id, task_id='extract')}").text
    assert "wh-pass-4711" not in page
    assert "postgres://etl:***@db/sales" in page


def test_a_stored_secret_in_a_rendered_field_shows_as_stars(ui: UiEnv, seeded: Seeded) -> None:
    run_id = seeded.etl_runs[0]
    store = ui.store()
    set_connection(store, Connection("warehouse", "postgres", password="wh-pass-4711"),
                   "tests", datetime.now(UTC))
    key = TaskInstanceKey("ui_etl", run_id, "extract")
    ti = store.task_instances.get(key)
    assert ti is not None and ti.try_number >= 1
    # What a worker that did not know the secret would have left on disk.
    path = rendered_path(ui.log_folder, key, ti.try_number)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"bash_command": "psql postgres://etl:wh-pass-4711@db"}))
    page = ui.get("viewer", f"/dags/ui_etl/task?{run_query(run_id, task_id='extract')}").text
    assert "wh-pass-4711" not in page
    assert "psql postgres://etl:***@db" in page
