"""``millstream dags backfill``: the schedule's intervals, once each, and waiting for the end."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from cli_helpers import Cli, assert_one_line_error
from tests.autocommit import autocommit

from millstream.cli.common import open_store
from millstream.model.states import DagRunState
from millstream.parsing.serialize import DagStructure
from millstream.services import mark
from millstream.services.backfill import backfill_dates

HOURLY_FROM_NOON = """
    from datetime import datetime, timedelta

    from millstream import DAG
    from millstream.operators.empty import EmptyOperator

    with DAG("every_six_hours", schedule=timedelta(hours=6),
             start_date=datetime(2026, 1, 1, 12)) as dag:
        EmptyOperator(task_id="noop")
"""


def day(d: int, hour: int = 0) -> datetime:
    return datetime(2026, 1, d, hour, tzinfo=UTC)


def backfill_runs(cli: Cli, dag_id: str = "pipeline") -> list[tuple[datetime, str, str]]:
    with open_store() as store:
        return [(r.logical_date, r.run_id, r.run_type) for r in store.runs.list(dag_id)]


def test_backfill_creates_every_interval_in_the_range_once(cli: Cli) -> None:
    cli.seed()
    out = cli.ok("dags", "backfill", "pipeline", "--start", "2026-01-02", "--end", "2026-01-05",
                 "--conf", '{"n": 2}', "--no-wait")
    assert "created 4 backfill run(s)" in out
    runs = backfill_runs(cli)
    assert [date for date, _, _ in runs] == [day(2), day(3), day(4), day(5)]
    assert {kind for _, _, kind in runs} == {"backfill"}
    assert runs[0][1] == "backfill__2026-01-02T00:00:00+00:00"
    with open_store() as store:
        assert {r.conf["n"] for r in store.runs.list("pipeline")} == {2}
        assert all(len(store.task_instances.for_run("pipeline", r.run_id)) == 3
                   for r in store.runs.list("pipeline"))
        (entry,) = store.audit.list("pipeline")
    assert entry.event == "backfill" and entry.extra["runs"] == 4

    again = cli.ok("dags", "backfill", "pipeline", "--start", "2026-01-02",
                   "--end", "2026-01-05", "--no-wait")
    assert "created 0 backfill run(s)" in again and "4 date(s) already had a run" in again
    assert backfill_runs(cli) == runs


def test_backfill_skips_dates_with_any_run_and_fills_the_rest(cli: Cli) -> None:
    cli.seed()
    cli.ok("dags", "trigger", "pipeline", "--logical-date", "2026-01-03")
    cli.ok("dags", "backfill", "pipeline", "--start", "2026-01-02", "--end", "2026-01-03",
           "--no-wait")
    out = cli.ok("dags", "backfill", "pipeline", "--start", "2026-01-01T00:00:00+00:00",
                 "--end", "2026-01-04T12:00:00", "--no-wait")
    assert "created 2 backfill run(s)" in out
    runs = backfill_runs(cli)
    assert [(date, kind) for date, _, kind in runs] == [
        (day(1), "backfill"), (day(2), "backfill"), (day(3), "manual"), (day(4), "backfill"),
    ]


def test_backfill_keeps_the_dag_start_date_and_a_timedelta_grid(cli: Cli) -> None:
    cli.seed(HOURLY_FROM_NOON, "six_hours.py")
    cli.ok("dags", "backfill", "every_six_hours", "--start", "2025-12-31",
           "--end", "2026-01-02T07:00:00", "--no-wait")
    dates = [date for date, _, _ in backfill_runs(cli, "every_six_hours")]
    assert dates == [day(1, 12), day(1, 18), day(2, 0), day(2, 6)]


def test_backfill_dates_of_a_cron_schedule_include_both_ends() -> None:
    from millstream import DAG
    from millstream.operators.empty import EmptyOperator

    with DAG("hourly", schedule="0 * * * *", start_date=datetime(2026, 1, 1)) as dag:
        EmptyOperator(task_id="noop")
    structure = DagStructure.from_dag(dag)
    dates = backfill_dates(structure, day(1, 1), day(1, 4))
    assert dates == [day(1, 1), day(1, 2), day(1, 3), day(1, 4)]
    between = backfill_dates(structure, day(1, 1) + timedelta(minutes=30), day(1, 3))
    assert between == [day(1, 2), day(1, 3)]


@pytest.mark.parametrize("args, fragment", [
    (("--start", "2026-01-05", "--end", "2026-01-01"), "before --start"),
    (("--start", "soon", "--end", "2026-01-01"), "bad --start"),
    (("--start", "2026-01-01", "--end", "2026-01-02", "--conf", '{"n": -1}'), "'n'"),
])
def test_backfill_bad_input_is_one_line(cli: Cli, args: tuple[str, ...], fragment: str) -> None:
    cli.seed()
    code, _, err = cli("dags", "backfill", "pipeline", *args, "--no-wait")
    assert code == 2
    assert_one_line_error(err, fragment)
    assert backfill_runs(cli) == []


def test_backfill_needs_a_periodic_schedule(cli: Cli) -> None:
    cli.seed()
    code, _, err = cli("dags", "backfill", "manual_only", "--start", "2026-01-01",
                       "--end", "2026-01-02", "--no-wait")
    assert code == 2
    assert_one_line_error(err, "no periodic schedule")


def _finish_runs_later(state: DagRunState, expected: int) -> threading.Thread:
    """Play the scheduler: once the backfill's runs exist, finish each in ``state``."""
    def work() -> None:
        deadline = time.monotonic() + 30
        # No transaction held while polling: each read and each mark is one of its own.
        with open_store(transaction=False) as raw:
            store = autocommit(raw)
            while time.monotonic() < deadline:
                runs = store.runs.list("pipeline", [DagRunState.QUEUED])
                if len(runs) >= expected:
                    break
                time.sleep(0.05)
            time.sleep(0.3)  # the command is polling by now
            for run in runs:
                mark.mark_run(raw, "pipeline", run.run_id, state, "tester", datetime.now(UTC))

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("state, code", [(DagRunState.SUCCESS, 0), (DagRunState.FAILED, 1)])
def test_backfill_waits_until_every_run_has_finished(cli: Cli, state: DagRunState,
                                                     code: int) -> None:
    cli.seed()
    thread = _finish_runs_later(state, 2)
    got, out, err = cli("dags", "backfill", "pipeline", "--start", "2026-01-01",
                        "--end", "2026-01-02")
    thread.join(5)
    assert got == code, out + err
    assert "created 2 backfill run(s)" in out
    if code == 0:
        assert "2 run(s) succeeded, 0 failed" in out
    else:
        assert "0 run(s) succeeded, 2 failed" in out
        assert "failed: backfill__2026-01-01T00:00:00+00:00" in out
    assert "2/2" in err  # the progress bar, on stderr


def test_backfill_run_here_drives_the_runs_with_a_scheduler_in_this_process(cli: Cli) -> None:
    cli.seed(HOURLY_FROM_NOON, "six_hours.py")
    code, out, err = cli("dags", "backfill", "every_six_hours", "--start", "2026-01-01T12:00",
                         "--end", "2026-01-01T18:00", "--run-here")
    assert code == 0, out + err
    assert "created 2 backfill run(s)" in out and "2 run(s) succeeded, 0 failed" in out
    with open_store() as store:
        # (the scheduler may also have created the DAG's latest scheduled run)
        runs = [r for r in store.runs.list("every_six_hours") if r.run_type == "backfill"]
        assert [r.state for r in runs] == [DagRunState.SUCCESS, DagRunState.SUCCESS]
        assert all(ti.state.value == "success" for r in runs
                   for ti in store.task_instances.for_run("every_six_hours", r.run_id))
