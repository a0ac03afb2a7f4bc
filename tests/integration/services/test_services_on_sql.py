"""The services over a real SQL store they get with no transaction open: each opens its
own, so a refused action leaves nothing behind and a done one is committed and audited."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from millstream import DAG, Param
from millstream.exceptions import ConflictError, InvalidInputError, NotFoundError
from millstream.model.states import DagRunState
from millstream.operators.empty import EmptyOperator
from millstream.parsing.serialize import DagStructure
from millstream.services import backfill, mark, pause, trigger
from millstream.store.sql import SqlStore
from tests.autocommit import autocommit

NOW = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(sql_engine: Engine) -> Iterator[SqlStore]:
    """A raw SQL store (no autocommit) holding one daily DAG with an integer param."""
    with DAG("etl", schedule="@daily", start_date=START,
             params={"n": Param(1, type="integer")}) as dag:
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
    structure = DagStructure.from_dag(dag)
    raw = SqlStore(sql_engine)
    with raw.transaction():
        raw.dags.upsert("etl", "/dags/etl.py", structure.to_json(), structure.version, START)
    yield raw
    raw.close()


def test_trigger_from_raw_text_stores_the_run_its_instances_and_an_audit_record(
        store: SqlStore) -> None:
    run = trigger.trigger_run(store, "etl", who="ann", now=NOW, conf='{"n": 3}',
                              logical_date="2026-02-01T06:00:00+01:00", run_id=" mine ")
    view = autocommit(store)
    assert (run.run_id, run.conf, run.logical_date) == (
        "mine", {"n": 3}, datetime(2026, 2, 1, 5, tzinfo=UTC))
    assert view.runs.get("etl", "mine") == run
    assert sorted(ti.task_id for ti in view.task_instances.for_run("etl", "mine")) == ["a", "b"]
    (entry,) = view.audit.list("etl")
    assert (entry.event, entry.who, entry.run_id) == ("trigger", "ann", "mine")


def test_trigger_defaults_to_now_to_the_microsecond(store: SqlStore) -> None:
    run = trigger.trigger_run(store, "etl", who="ann", now=NOW)
    assert run.logical_date == NOW
    assert run.run_id == f"manual__{NOW.isoformat()}"


def test_triggers_at_the_same_instant_all_succeed_on_the_next_free_microsecond(
        store: SqlStore) -> None:
    runs = [trigger.trigger_run(store, "etl", who="ann", now=NOW) for _ in range(3)]
    assert [run.logical_date for run in runs] == [
        NOW + timedelta(microseconds=i) for i in range(3)]
    assert len({run.run_id for run in runs}) == 3
    # A date or run id the caller gave is still a conflict, never moved.
    with pytest.raises(ConflictError, match="already has a run for logical date"):
        trigger.trigger_run(store, "etl", who="ann", now=NOW, logical_date=NOW.isoformat(),
                            run_id="other")
    with pytest.raises(ConflictError, match="already has a run 'mine'"):
        trigger.trigger_run(store, "etl", who="ann", now=NOW, run_id="mine")
        trigger.trigger_run(store, "etl", who="ann", now=NOW, run_id="mine")


def test_many_concurrent_triggers_from_separate_connections_all_succeed(
        sql_engine: Engine, store: SqlStore) -> None:
    def one(_: int) -> str:
        own = SqlStore(sql_engine)
        try:
            return trigger.trigger_run(own, "etl", who="ann",
                                       now=datetime.now(UTC).replace(microsecond=0)).run_id
        finally:
            own.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        run_ids = list(pool.map(one, range(40)))
    assert len(set(run_ids)) == 40
    assert len(autocommit(store).runs.list("etl")) == 40


@pytest.mark.parametrize("kwargs, error, message", [
    ({"conf": "{nope"}, InvalidInputError, "Conf is not valid JSON"),
    ({"conf": '{"n": "three"}'}, InvalidInputError, "Conf does not fit the DAG's params"),
    ({"logical_date": "tomorrow"}, InvalidInputError, "bad Logical date 'tomorrow'"),
])
def test_bad_trigger_input_changes_nothing(store: SqlStore, kwargs: dict[str, str],
                                           error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        trigger.trigger_run(store, "etl", who="ann", now=NOW, conf_field="Conf",
                            date_field="Logical date", **kwargs)
    view = autocommit(store)
    assert view.runs.list("etl") == [] and view.audit.list() == []


def test_a_taken_run_id_or_date_and_an_unknown_dag_are_refused(store: SqlStore) -> None:
    trigger.trigger_run(store, "etl", who="ann", now=NOW, logical_date="2026-02-01",
                        run_id="r1")
    with pytest.raises(ConflictError, match="already has a run 'r1'"):
        trigger.trigger_run(store, "etl", who="ann", now=NOW, run_id="r1")
    with pytest.raises(ConflictError, match="already has a run for logical date"):
        trigger.trigger_run(store, "etl", who="ann", now=NOW, logical_date="2026-02-01")
    with pytest.raises(NotFoundError, match="no DAG 'ghost'"):
        trigger.trigger_run(store, "ghost", who="ann", now=NOW)
    assert len(autocommit(store).runs.list("etl")) == 1


def test_backfill_from_text_dates_creates_each_interval_once(store: SqlStore) -> None:
    first = backfill.backfill(store, "etl", "2026-01-02", "2026-01-04", who="ann", now=NOW,
                              conf={"n": 2})
    assert [r.logical_date.day for r in first.created] == [2, 3, 4]
    assert all(r.run_type == "backfill" and r.conf == {"n": 2} for r in first.created)
    again = backfill.backfill(store, "etl", "2026-01-01", "2026-01-04", who="ann", now=NOW)
    assert [r.logical_date.day for r in again.created] == [1]
    assert len(again.existing) == 3
    with pytest.raises(InvalidInputError, match="--end 2026-01-01T00:00:00"):
        backfill.backfill(store, "etl", "2026-01-03", "2026-01-01", who="ann", now=NOW,
                          start_field="--start", end_field="--end")


def test_pause_and_mark_commit_on_their_own(store: SqlStore) -> None:
    assert pause.set_paused(store, "etl", True, "ann", NOW) is True
    run = trigger.trigger_run(store, "etl", who="ann", now=NOW, run_id="r1")
    marked = mark.mark_run(store, "etl", run.run_id, "failed", "ann", NOW)
    assert marked.state is DagRunState.FAILED
    view = autocommit(store)
    assert view.dags.get("etl").is_paused
    assert [a.event for a in view.audit.list("etl")] == ["mark_run_failed", "trigger", "pause"]
    with pytest.raises(InvalidInputError, match="unknown run state 'done'"):
        mark.mark_run(store, "etl", "r1", "done", "ann", NOW)
