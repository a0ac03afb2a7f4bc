"""``millstream dags list|pause|unpause|trigger|list-runs|state|list-import-errors`` over SQLite."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cli_helpers import Cli, assert_one_line_error

from millstream.cli.common import open_store
from millstream.model.states import DagRunState, TaskState


def test_trigger_creates_a_queued_run_with_its_conf_and_task_instances(cli: Cli) -> None:
    cli.seed()
    out = cli.ok("dags", "trigger", "pipeline", "--conf", '{"n": 5}',
                 "--logical-date", "2026-02-01")
    run_id = out.strip()
    assert run_id == "manual__2026-02-01T00:00:00+00:00"
    with open_store() as store:
        run = store.runs.get("pipeline", run_id)
        assert run is not None
        assert run.state is DagRunState.QUEUED
        assert run.conf == {"n": 5}
        assert run.run_type == "manual"
        assert run.logical_date == datetime(2026, 2, 1, tzinfo=UTC)
        # a manual run covers the last day complete at its logical date, as in Airflow
        assert (run.data_interval_start, run.data_interval_end) == (
            datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
        record = store.dags.get("pipeline")
        assert record is not None and run.dag_version == record.latest_version
        instances = store.task_instances.for_run("pipeline", run_id)
        assert sorted(ti.task_id for ti in instances) == ["explode", "extract", "load"]
        assert {ti.state for ti in instances} == {TaskState.NONE}
        (entry,) = store.audit.list("pipeline")
    assert entry.event == "trigger" and entry.run_id == run_id and entry.who
    assert entry.extra["conf"] == {"n": 5}


def test_trigger_takes_a_run_id_and_refuses_a_taken_one(cli: Cli) -> None:
    cli.seed()
    assert cli.ok("dags", "trigger", "pipeline", "--run-id", "mine").strip() == "mine"
    code, _, err = cli("dags", "trigger", "pipeline", "--run-id", "mine")
    assert code == 2
    assert_one_line_error(err, "already has a run 'mine'")


@pytest.mark.parametrize("conf, fragment", [
    ('{"n": "many"}', "'n'"),
    ('{"n": 0}', "'n'"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
])
def test_bad_conf_is_a_one_line_error_and_creates_nothing(cli: Cli, conf: str,
                                                          fragment: str) -> None:
    cli.seed()
    code, out, err = cli("dags", "trigger", "pipeline", "--conf", conf)
    assert code == 2 and out == ""
    assert_one_line_error(err, fragment)
    with open_store() as store:
        assert store.runs.list("pipeline") == []
        assert store.audit.list() == []


@pytest.mark.parametrize("args", [
    ("dags", "trigger", "nope"),
    ("dags", "pause", "nope"),
    ("dags", "unpause", "nope"),
    ("dags", "list-runs", "nope"),
    ("dags", "state", "nope", "some_run"),
    ("dags", "backfill", "nope", "--start", "2026-01-01", "--end", "2026-01-02", "--no-wait"),
    ("tasks", "list", "nope"),
    ("tasks", "states", "nope", "some_run"),
    ("tasks", "clear", "nope", "--yes"),
    ("tasks", "run", "nope", "some_run", "t"),
    ("tasks", "logs", "nope", "some_run", "t"),
])
def test_an_unknown_dag_is_one_line_and_exit_2(cli: Cli, args: tuple[str, ...]) -> None:
    cli.seed()
    code, out, err = cli(*args)
    assert code == 2, out + err
    assert_one_line_error(err, "'nope'")


@pytest.mark.parametrize("args, fragment", [
    (("dags", "trigger", "pipeline", "--logical-date", "yesterday"), "bad --logical-date"),
    (("dags", "state", "pipeline", "no_such_run"), "no run 'no_such_run'"),
    (("dags", "state", "pipeline", "2030-01-01"), "no run '2030-01-01'"),
    (("dags", "list-runs", "pipeline", "--state", "sleeping"), "unknown run state"),
    (("tasks", "states", "pipeline", "no_such_run"), "no run 'no_such_run'"),
])
def test_bad_input_is_one_line_and_exit_2(cli: Cli, args: tuple[str, ...],
                                          fragment: str) -> None:
    cli.seed()
    code, _, err = cli(*args)
    assert code == 2
    assert_one_line_error(err, fragment)


def test_bad_settings_are_one_line_and_exit_2(cli: Cli,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILLSTREAM__DATABASE__URL", "not a url")
    code, _, err = cli("dags", "list")
    assert code == 2
    assert_one_line_error(err, "database.url")


def test_pause_and_unpause_flip_the_flag_and_are_audited(cli: Cli) -> None:
    cli.seed()
    assert "DAG pipeline paused" in cli.ok("dags", "pause", "pipeline")
    with open_store() as store:
        record = store.dags.get("pipeline")
        assert record is not None and record.is_paused
    assert "already paused" in cli.ok("dags", "pause", "pipeline")
    assert "DAG pipeline unpaused" in cli.ok("dags", "unpause", "pipeline")
    with open_store() as store:
        record = store.dags.get("pipeline")
        assert record is not None and not record.is_paused
        events = [(a.event, a.dag_id) for a in store.audit.list("pipeline")]
    assert events == [("unpause", "pipeline"), ("pause", "pipeline")]  # newest first


def test_a_paused_dag_can_be_triggered_with_a_note(cli: Cli) -> None:
    cli.seed()
    cli.ok("dags", "pause", "pipeline")
    code, out, err = cli("dags", "trigger", "pipeline")
    assert code == 0
    assert out.startswith("manual__")
    assert "paused" in err


def test_list_shows_paused_schedule_file_and_latest_run(cli: Cli) -> None:
    path = cli.seed()
    cli.ok("dags", "trigger", "pipeline", "--logical-date", "2026-01-01")
    cli.ok("dags", "trigger", "pipeline", "--logical-date", "2026-01-03")
    cli.ok("dags", "pause", "manual_only")
    rows = {row["dag_id"]: row for row in json.loads(cli.ok("dags", "list", "--json"))}
    assert rows["pipeline"] == {
        "dag_id": "pipeline", "paused": False, "schedule": "@daily", "fileloc": str(path),
        "latest_run": "manual__2026-01-03T00:00:00+00:00", "latest_run_state": "queued",
    }
    assert rows["manual_only"]["paused"] is True
    assert rows["manual_only"]["schedule"] is None
    assert rows["manual_only"]["latest_run_state"] is None
    table = cli.ok("dags", "list")
    assert "pipeline" in table and "@daily" in table and "queued" in table


def test_list_runs_and_state(cli: Cli) -> None:
    cli.seed()
    first = cli.ok("dags", "trigger", "pipeline", "--logical-date", "2026-01-01").strip()
    second = cli.ok("dags", "trigger", "pipeline", "--logical-date", "2026-01-02T06:00:00",
                    "--conf", '{"n": 7}').strip()
    with open_store() as store:
        run = store.runs.get("pipeline", first)
        assert run is not None
        run = store.runs.set_state(run, DagRunState.RUNNING, start_date=datetime.now(UTC))
        run = store.runs.set_state(run, DagRunState.FAILED, end_date=datetime.now(UTC))

    runs = json.loads(cli.ok("dags", "list-runs", "pipeline", "--json"))
    assert [r["run_id"] for r in runs] == [second, first]  # newest first
    assert runs[0]["conf"] == {"n": 7} and runs[0]["state"] == "queued"
    only_failed = json.loads(cli.ok("dags", "list-runs", "pipeline", "--state", "failed",
                                    "--json"))
    assert [r["run_id"] for r in only_failed] == [first]
    limited = json.loads(cli.ok("dags", "list-runs", "pipeline", "--limit", "1", "--json"))
    assert [r["run_id"] for r in limited] == [second]
    table = cli.ok("dags", "list-runs", "pipeline")
    assert first in table and second in table and "failed" in table

    assert cli.ok("dags", "state", "pipeline", first).strip() == "failed"
    assert cli.ok("dags", "state", "pipeline", "2026-01-01").strip() == "failed"
    assert cli.ok("dags", "state", "pipeline", "2026-01-02T06:00:00+00:00").strip() == "queued"


def test_list_import_errors(cli: Cli) -> None:
    with open_store() as store:
        store.import_errors.set(
            str(cli.home / "dags" / "broken.py"),
            'Traceback (most recent call last):\n  File "broken.py", line 3\n'
            "NameError: name 'oops' is not defined\n",
            datetime(2026, 1, 1, tzinfo=UTC),
        )
    out = cli.ok("dags", "list-import-errors")
    assert "broken.py" in out and "NameError: name 'oops' is not defined" in out
    (error,) = json.loads(cli.ok("dags", "list-import-errors", "--json"))
    assert error["filename"].endswith("broken.py") and "NameError" in error["traceback"]


def test_no_import_errors(cli: Cli) -> None:
    assert "no import errors" in cli.ok("dags", "list-import-errors")
