"""``millstream tasks list|states|clear|run|logs`` over SQLite."""

from __future__ import annotations

import json

import pytest
from cli_helpers import Cli, assert_one_line_error, drive, finish_run

from millstream.cli.common import open_store
from millstream.model.states import DagRunState, TaskState
from millstream.runtime.worker import try_log_path
from millstream.store.records import TaskInstanceKey


def trigger(cli: Cli, date: str = "2026-01-01", *extra: str) -> str:
    return cli.ok("dags", "trigger", "pipeline", "--logical-date", date, *extra).strip()


def states(run_id: str) -> dict[str, tuple[TaskState, int]]:
    with open_store() as store:
        return {ti.task_id: (ti.state, ti.try_number)
                for ti in store.task_instances.for_run("pipeline", run_id)}


def failed_run(cli: Cli, date: str = "2026-01-01") -> str:
    """A finished run: extract succeeded (with an XCom), explode failed, load upstream_failed."""
    run_id = trigger(cli, date)
    with open_store() as store:
        drive(store, "pipeline", run_id, "extract", TaskState.SUCCESS)
        store.xcoms.set_many(TaskInstanceKey("pipeline", run_id, "extract"),
                             [("return_value", '{"rows": 3}')])
        drive(store, "pipeline", run_id, "explode", TaskState.FAILED)
        drive(store, "pipeline", run_id, "load", TaskState.UPSTREAM_FAILED)
        finish_run(store, "pipeline", run_id, DagRunState.FAILED)
    return run_id


def test_list_shows_tasks_in_topological_order(cli: Cli) -> None:
    cli.seed()
    out = cli.ok("tasks", "list", "pipeline")
    rows = [line for line in out.splitlines() if "PythonOperator" in line]
    assert [row.split("│")[1].strip() for row in rows] == ["extract", "explode", "load"]
    assert "all_done" in rows[2] and "all_success" in rows[0]


def test_states_shows_each_instance(cli: Cli) -> None:
    cli.seed()
    run_id = failed_run(cli)
    out = cli.ok("tasks", "states", "pipeline", run_id)
    assert f"run {run_id} of pipeline: failed" in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    assert "success" in rows["extract"] and "failed" in rows["explode"]
    assert "upstream_failed" in rows["load"]
    assert cli.ok("tasks", "states", "pipeline", "2026-01-01") == out


def test_clear_only_failed_resets_failures_and_requeues_the_run(cli: Cli) -> None:
    cli.seed()
    run_id = failed_run(cli)
    other = failed_run(cli, "2026-01-02")
    out = cli.ok("tasks", "clear", "pipeline", "--run-id", run_id, "--task-regex", "^explode$",
                 "--downstream", "--only-failed", "--yes")
    assert "cleared 2 task instance(s)" in out
    assert f"run {run_id} queued again" in out
    assert states(run_id) == {"extract": (TaskState.SUCCESS, 1), "explode": (TaskState.NONE, 1),
                              "load": (TaskState.NONE, 0)}
    with open_store() as store:
        run = store.runs.get("pipeline", run_id)
        assert run is not None and run.state is DagRunState.QUEUED and run.end_date is None
        explode = store.task_instances.get(TaskInstanceKey("pipeline", run_id, "explode"))
        assert explode is not None and explode.end_date is None and explode.error is None
        assert explode.max_tries == 1  # its retries (0) after the try it has had
        # untouched: the successful upstream's XCom and the other run
        assert store.xcoms.get_xcom("pipeline", run_id, "extract", -1, "return_value")
        untouched = store.runs.get("pipeline", other)
        assert untouched is not None and untouched.state is DagRunState.FAILED
        (entry,) = [a for a in store.audit.list("pipeline") if a.event == "clear"]
    assert entry.run_id == run_id and entry.extra["tasks"] == ["explode", "load"]
    assert states(other)["explode"] == (TaskState.FAILED, 1)


def test_clear_of_every_run_removes_xcoms(cli: Cli) -> None:
    cli.seed()
    first, second = failed_run(cli), failed_run(cli, "2026-01-02")
    out = cli.ok("tasks", "clear", "pipeline", "-t", "extract", "--yes")
    assert "cleared 2 task instance(s)" in out
    with open_store() as store:
        for run_id in (first, second):
            assert store.xcoms.get_xcom("pipeline", run_id, "extract", -1, "return_value") is None
            run = store.runs.get("pipeline", run_id)
            assert run is not None and run.state is DagRunState.QUEUED
    assert states(first)["explode"] == (TaskState.FAILED, 1)


def test_clear_asks_first_and_nothing_changes_on_no(cli: Cli) -> None:
    cli.seed()
    run_id = failed_run(cli)
    code, out, _ = cli("tasks", "clear", "pipeline", "--only-failed", input="n\n")
    assert code == 1
    assert "explode" in out and "nothing changed" in out
    assert states(run_id)["explode"] == (TaskState.FAILED, 1)
    code, out, _ = cli("tasks", "clear", "pipeline", "--only-failed", input="y\n")
    assert code == 0 and "cleared 2" in out


def test_clear_with_nothing_to_clear_and_a_bad_regex(cli: Cli) -> None:
    cli.seed()
    trigger(cli)
    assert "nothing to clear" in cli.ok("tasks", "clear", "pipeline", "--yes")
    code, _, err = cli("tasks", "clear", "pipeline", "-t", "([", "--yes")
    assert code == 2
    assert_one_line_error(err, "bad task regex")


def test_run_executes_a_task_and_records_success_and_xcom(cli: Cli) -> None:
    cli.seed()
    run_id = trigger(cli, "2026-01-01", "--conf", '{"n": 4}')
    code, out, err = cli("tasks", "run", "pipeline", run_id, "extract")
    assert code == 0, out + err
    assert "extracting 4 rows" in out
    assert "extract try 1: success" in out
    with open_store() as store:
        ti = store.task_instances.get(TaskInstanceKey("pipeline", run_id, "extract"))
        assert ti is not None and ti.state is TaskState.SUCCESS and ti.try_number == 1
        assert ti.start_date is not None and ti.end_date is not None
        assert json.loads(store.xcoms.get_xcom("pipeline", run_id, "extract", -1,
                                               "return_value") or "null") == {"rows": 4}
        (attempt,) = store.task_instances.tries(ti.key)
        assert attempt.state is TaskState.SUCCESS
        assert any(a.event == "run_task" for a in store.audit.list("pipeline"))

    # the downstream task reads that XCom, by logical date this time
    code, out, _ = cli("tasks", "run", "pipeline", "2026-01-01", "load")
    assert code == 0 and "loading 4 rows" in out
    with open_store() as store:
        assert store.xcoms.get_xcom("pipeline", run_id, "load", -1, "return_value") == "40"

    log = try_log_path(cli.home / "logs", TaskInstanceKey("pipeline", run_id, "extract"), 1)
    assert "extracting 4 rows" in log.read_text()
    logs = cli.ok("tasks", "logs", "pipeline", run_id, "extract")
    assert "extracting 4 rows" in logs
    assert logs == cli.ok("tasks", "logs", "pipeline", "2026-01-01", "extract", "--try", "1")


def test_run_a_failing_task_records_the_failure(cli: Cli) -> None:
    cli.seed()
    run_id = trigger(cli)
    code, out, _ = cli("tasks", "run", "pipeline", run_id, "explode")
    assert code == 1
    assert "explode try 1: failed" in out and "the source is gone" in out
    assert states(run_id)["explode"] == (TaskState.FAILED, 1)
    assert "RuntimeError: the source is gone" in cli.ok("tasks", "logs", "pipeline", run_id,
                                                        "explode")


def test_run_refuses_a_finished_task_unless_forced(cli: Cli) -> None:
    cli.seed()
    run_id = trigger(cli)
    cli.ok("tasks", "run", "pipeline", run_id, "extract")
    code, _, err = cli("tasks", "run", "pipeline", run_id, "extract")
    assert code == 2
    assert_one_line_error(err, "is success", "--force")
    cli.ok("tasks", "run", "pipeline", run_id, "extract", "--force")
    assert states(run_id)["extract"] == (TaskState.SUCCESS, 2)
    assert "extracting" in cli.ok("tasks", "logs", "pipeline", run_id, "extract", "--try", "2")


@pytest.mark.parametrize("args, fragment", [
    (("tasks", "run", "pipeline", "RUN", "no_task"), "no task 'no_task'"),
    (("tasks", "logs", "pipeline", "RUN", "extract"), "has not run yet"),
    (("tasks", "logs", "pipeline", "RUN", "extract", "--try", "3"), "not 3"),
    (("tasks", "logs", "pipeline", "RUN", "no_task"), "no task instance 'no_task'"),
])
def test_tasks_bad_input_is_one_line(cli: Cli, args: tuple[str, ...], fragment: str) -> None:
    cli.seed()
    run_id = trigger(cli)
    code, _, err = cli(*[run_id if a == "RUN" else a for a in args])
    assert code == 2
    assert_one_line_error(err, fragment)


def test_logs_of_a_try_whose_file_is_gone(cli: Cli) -> None:
    cli.seed()
    run_id = trigger(cli)
    cli.ok("tasks", "run", "pipeline", run_id, "extract")
    try_log_path(cli.home / "logs", TaskInstanceKey("pipeline", run_id, "extract"), 1).unlink()
    code, _, err = cli("tasks", "logs", "pipeline", run_id, "extract")
    assert code == 2
    assert_one_line_error(err, "no log file")
