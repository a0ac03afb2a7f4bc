"""The key store-backed commands, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import json

from cli_helpers import Cli, assert_one_line_error, drive, finish_run

from millstream.cli.common import open_store
from millstream.model.states import DagRunState, TaskState


def test_key_commands(backend_cli: Cli) -> None:
    cli = backend_cli
    cli.seed()  # the first command on a new database migrates it
    dags = {row["dag_id"] for row in json.loads(cli.ok("dags", "list", "--json"))}
    assert dags == {"pipeline", "manual_only"}

    cli.ok("dags", "pause", "pipeline")
    cli.ok("dags", "unpause", "pipeline")
    run_id = cli.ok("dags", "trigger", "pipeline", "--logical-date", "2026-03-01",
                    "--conf", '{"n": 2}').strip()
    code, _, err = cli("dags", "trigger", "pipeline", "--conf", '{"n": "two"}')
    assert code == 2
    assert_one_line_error(err, "'n'")
    assert cli.ok("dags", "state", "pipeline", run_id).strip() == "queued"

    for _ in range(2):
        cli.ok("dags", "backfill", "pipeline", "--start", "2026-02-01", "--end", "2026-02-03",
               "--no-wait")
    runs = json.loads(cli.ok("dags", "list-runs", "pipeline", "--json"))
    assert [r["run_type"] for r in runs] == ["manual", "backfill", "backfill", "backfill"]

    assert cli("tasks", "run", "pipeline", run_id, "extract")[0] == 0
    assert "extracting 2 rows" in cli.ok("tasks", "logs", "pipeline", run_id, "extract")
    with open_store() as store:
        drive(store, "pipeline", run_id, "explode", TaskState.FAILED)
        drive(store, "pipeline", run_id, "load", TaskState.UPSTREAM_FAILED)
        finish_run(store, "pipeline", run_id, DagRunState.FAILED)
    assert "cleared 2" in cli.ok("tasks", "clear", "pipeline", "--run-id", run_id,
                                 "--only-failed", "--yes")
    assert cli.ok("dags", "state", "pipeline", run_id).strip() == "queued"
    with open_store() as store:
        got = {ti.task_id: ti.state for ti in store.task_instances.for_run("pipeline", run_id)}
        events = {a.event for a in store.audit.list("pipeline")}
    assert got == {"extract": TaskState.SUCCESS, "explode": TaskState.NONE,
                   "load": TaskState.NONE}
    assert events == {"pause", "unpause", "trigger", "backfill", "run_task", "clear"}

    cli.ok("pools", "set", "warehouse", "3")
    assert "warehouse" in cli.ok("pools", "list")
    cli.ok("pools", "delete", "warehouse")
    assert cli("pools", "delete", "default_pool")[0] == 2
