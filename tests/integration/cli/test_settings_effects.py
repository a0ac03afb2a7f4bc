"""Settings that change what the scheduler does: each one set, and the effect seen in the store.

The scheduler is the one ``millstream scheduler`` builds (:func:`scheduler_job`, from the
settings of this process's environment), stepped by hand: parse the dags folder, load what
was stored, create the due runs. Nothing runs a task. Each test runs on SQLite and on a
PostgreSQL schema of its own.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_helpers import Cli, assert_one_line_error

from millstream.cli.engine import scheduler_job
from millstream.config import load_settings
from millstream.scheduler.job import SchedulerJob

NOW = datetime(2026, 1, 20, 12, tzinfo=UTC)
PAUSED_SETTING = "MILLSTREAM__CORE__DAGS_ARE_PAUSED_AT_CREATION"

DAILY = """
    from datetime import datetime

    from millstream import DAG
    from millstream.operators.empty import EmptyOperator

    with DAG({dag_id!r}, schedule="@daily", start_date=datetime(2026, 1, {first_day}){extra}
             ) as dag:
        EmptyOperator(task_id="only")
"""


def write_dag(home: Path, dag_id: str, intervals: int = 5, extra: str = "",
              comment: str = "") -> Path:
    """A daily DAG of which that many intervals have ended at NOW."""
    path = home / "dags" / f"{dag_id}.py"
    source = DAILY.format(dag_id=dag_id, first_day=NOW.day - intervals, extra=extra)
    path.write_text(textwrap.dedent(source) + comment)
    return path


@contextlib.contextmanager
def parsed_by_a_scheduler() -> Iterator[SchedulerJob]:
    """A scheduler of this environment's settings that has parsed and loaded the folder."""
    with scheduler_job(load_settings()) as job:
        job.refresh(job.store, NOW)
        job.load_dags()
        yield job


def runs_per_dag(job: SchedulerJob) -> Counter[str]:
    with job.store.transaction():
        return Counter(run.dag_id for run in job.store.runs.list())


def is_paused(job: SchedulerJob, dag_id: str) -> bool:
    with job.store.transaction():
        record = job.store.dags.get(dag_id)
    assert record is not None, f"{dag_id} was not stored"
    return record.is_paused


# -- core.dags_are_paused_at_creation ----------------------------------------------------------
def test_a_new_dag_starts_paused_and_gets_no_runs(backend_cli: Cli) -> None:
    write_dag(backend_cli.home, "fresh")
    with parsed_by_a_scheduler() as job:
        assert is_paused(job, "fresh")
        assert job.create_runs(NOW) == 0
        assert runs_per_dag(job) == Counter()


def test_with_the_setting_false_a_new_dag_is_scheduled_at_once(
    backend_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PAUSED_SETTING, "false")
    write_dag(backend_cli.home, "fresh")
    with parsed_by_a_scheduler() as job:
        assert not is_paused(job, "fresh")
        assert job.create_runs(NOW) == 1
        assert runs_per_dag(job) == Counter({"fresh": 1})


@pytest.mark.parametrize("setting", ["true", "false"])
def test_is_paused_upon_creation_wins_over_the_setting(
    backend_cli: Cli, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.setenv(PAUSED_SETTING, setting)
    write_dag(backend_cli.home, "says_paused", extra=", is_paused_upon_creation=True")
    write_dag(backend_cli.home, "says_active", extra=", is_paused_upon_creation=False")
    write_dag(backend_cli.home, "says_nothing")
    with parsed_by_a_scheduler() as job:
        assert is_paused(job, "says_paused")
        assert not is_paused(job, "says_active")
        assert is_paused(job, "says_nothing") is (setting == "true")


def test_a_stored_dag_keeps_its_paused_flag_when_parsed_again(
    backend_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = backend_cli.home
    write_dag(home, "unpaused_by_hand")
    write_dag(home, "left_paused")
    write_dag(home, "says_paused", extra=", is_paused_upon_creation=True")
    with parsed_by_a_scheduler() as job:
        assert is_paused(job, "unpaused_by_hand") and is_paused(job, "left_paused")
        with job.store.transaction():
            job.store.dags.set_paused("unpaused_by_hand", False)
            job.store.dags.set_paused("says_paused", False)
        # The files change (a new fingerprint, so they are parsed again by this scheduler).
        for dag_id, extra in (("unpaused_by_hand", ""), ("left_paused", ""),
                              ("says_paused", ", is_paused_upon_creation=True")):
            write_dag(home, dag_id, extra=extra, comment="# edited\n")
        job.refresh(job.store, NOW)
        assert not is_paused(job, "unpaused_by_hand")
        assert not is_paused(job, "says_paused")
        assert is_paused(job, "left_paused")
    # A scheduler started later, with the opposite setting, parses everything again.
    monkeypatch.setenv(PAUSED_SETTING, "false")
    with parsed_by_a_scheduler() as job:
        assert not is_paused(job, "unpaused_by_hand")
        assert not is_paused(job, "says_paused")
        assert is_paused(job, "left_paused")


# -- scheduler.max_runs_per_tick ---------------------------------------------------------------
def test_max_runs_per_tick_caps_each_round_and_takes_the_dags_in_turn(
    backend_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PAUSED_SETTING, "false")
    monkeypatch.setenv("MILLSTREAM__SCHEDULER__MAX_RUNS_PER_TICK", "4")
    for dag_id in ("a_backlog", "b_backlog"):
        write_dag(backend_cli.home, dag_id, intervals=10, extra=", catchup=True")
    write_dag(backend_cli.home, "c_short", intervals=2, extra=", catchup=True")
    with parsed_by_a_scheduler() as job:
        rounds = []
        for _ in range(7):
            before = runs_per_dag(job)
            created = job.create_runs(NOW)
            after = runs_per_dag(job)
            assert created == sum(after.values()) - sum(before.values())
            rounds.append({d: after[d] - before[d] for d in after if after[d] != before[d]})
    assert rounds == [
        {"a_backlog": 4},
        {"b_backlog": 4},  # the next round starts after the DAG the cap stopped at
        {"c_short": 2, "a_backlog": 2},
        {"b_backlog": 4},
        {"a_backlog": 4},  # c_short has all its runs
        {"b_backlog": 2},  # and now so has a_backlog: a round under the cap
        {},
    ]


def test_without_a_cap_setting_a_round_creates_up_to_a_hundred_runs(
    backend_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PAUSED_SETTING, "false")
    for n in range(7):  # 7 x 16 runs (max_active_runs holds back the rest of each backlog)
        write_dag(backend_cli.home, f"long_backlog{n}", intervals=19, extra=", catchup=True")
    with parsed_by_a_scheduler() as job:
        assert job.create_runs(NOW) == 100
        assert job.create_runs(NOW) == 12
        assert job.create_runs(NOW) == 0


# -- scheduler.catchup_by_default --------------------------------------------------------------
@pytest.mark.parametrize(("setting", "unsaid_runs"), [(None, 1), ("false", 1), ("true", 5)])
def test_catchup_by_default_is_the_catchup_of_dags_that_do_not_say(
    backend_cli: Cli, monkeypatch: pytest.MonkeyPatch, setting: str | None, unsaid_runs: int
) -> None:
    monkeypatch.setenv(PAUSED_SETTING, "false")
    monkeypatch.setenv("MILLSTREAM__SCHEDULER__MAX_RUNS_PER_TICK", "100")
    if setting is not None:  # read where the DAG files are parsed, from the environment
        monkeypatch.setenv("MILLSTREAM__SCHEDULER__CATCHUP_BY_DEFAULT", setting)
    write_dag(backend_cli.home, "unsaid")
    write_dag(backend_cli.home, "says_yes", extra=", catchup=True")
    write_dag(backend_cli.home, "says_no", extra=", catchup=False")
    with parsed_by_a_scheduler() as job:
        assert job.scheduler.dags["unsaid"].catchup is (unsaid_runs > 1)
        job.create_runs(NOW)
        assert runs_per_dag(job) == Counter({"unsaid": unsaid_runs, "says_yes": 5,
                                             "says_no": 1})


# -- scheduler.executor ------------------------------------------------------------------------
def test_the_celery_executor_on_sqlite_stops_the_scheduler_naming_the_database(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MILLSTREAM__SCHEDULER__EXECUTOR", "celery")
    code, _, err = cli("scheduler")
    assert code == 2
    assert_one_line_error(err, 'scheduler.executor = "celery" needs a PostgreSQL database',
                          "database.url", "this one is sqlite")
    assert not (cli.home / "millstream.db").exists()  # nothing was started or created


def test_an_unknown_executor_in_the_file_names_the_file(cli: Cli) -> None:
    settings_file = cli.home / "millstream.toml"
    settings_file.write_text('[scheduler]\nexecutor = "kubernetes"\n')
    code, _, err = cli("standalone")
    assert code == 2
    assert_one_line_error(err, "scheduler.executor = 'kubernetes'", str(settings_file),
                          "unknown executor 'kubernetes'; allowed: local, celery")
    assert not (cli.home / "millstream.db").exists()
