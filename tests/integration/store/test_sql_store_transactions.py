"""SQL store behaviour beyond the shared contract: transactions, races, stale records, UTC."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, text
from tests.autocommit import autocommit

from millstream.exceptions import ConflictError, StoreUsageError
from millstream.model.states import DagRunState, TaskState
from millstream.store.records import DagRunRecord, TaskInstanceKey, TaskInstanceRecord
from millstream.store.sql import SqlStore, StaleRecordError
from millstream.store.sql.common import conflicts_as_value_error, execute
from millstream.store.sql.convert import TI_TABLE, ti_values

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def make_run(day: int = 0, run_id: str | None = None) -> DagRunRecord:
    logical = DAY + timedelta(days=day)
    return DagRunRecord("etl", run_id or f"scheduled__{day}", logical, logical,
                        logical + timedelta(days=1))


def scheduled_task(store: SqlStore, task_id: str = "extract") -> TaskInstanceRecord:
    """A run with one task instance in state scheduled."""
    run = make_run()
    ti = TaskInstanceRecord(run.dag_id, run.run_id, task_id)
    with store.transaction():
        if store.runs.get(run.dag_id, run.run_id) is None:
            store.runs.add(run)
        store.task_instances.add_many([ti])
        return store.task_instances.set_state(ti, TaskState.SCHEDULED)


# -- transactions ----------------------------------------------------------------------------------
def test_a_transaction_that_raises_leaves_nothing_written(sql_store: SqlStore) -> None:
    run = make_run()
    with pytest.raises(RuntimeError, match="halfway"), sql_store.transaction():
        sql_store.runs.add(run)
        sql_store.task_instances.add_many([TaskInstanceRecord("etl", run.run_id, "a")])
        sql_store.xcoms.set_many(TaskInstanceKey("etl", run.run_id, "a"), [("k", "1")])
        sql_store.pools.set("db", 3)
        raise RuntimeError("halfway")
    assert sql_store.runs.get("etl", run.run_id) is None
    assert sql_store.task_instances.for_run("etl", run.run_id) == []
    assert sql_store.xcoms.get_xcom("etl", run.run_id, "a", -1, "k") is None
    assert sql_store.pools.slots("db") is None


def test_an_insert_conflict_inside_a_transaction_leaves_the_transaction_usable(
        sql_store: SqlStore) -> None:
    # PostgreSQL aborts a transaction on any error unless the failing insert ran inside
    # its savepoint: the savepoint must begin even when earlier statements of the same
    # transaction already went through its connection (which the store keeps).
    run = make_run()
    row = ti_values(TaskInstanceRecord("etl", run.run_id, "a"))
    with sql_store.transaction():
        sql_store.runs.add(run)
        execute(sql_store.session, insert(TI_TABLE), [row])
        with pytest.raises(ConflictError), \
                conflicts_as_value_error(sql_store.session, "a twice"):
            execute(sql_store.session, insert(TI_TABLE), [row])
        sql_store.task_instances.add_many([TaskInstanceRecord("etl", run.run_id, "b")])
    with sql_store.transaction():
        assert [ti.task_id for ti in sql_store.task_instances.for_run("etl", run.run_id)] \
            == ["a", "b"]


def test_a_failed_state_change_is_rolled_back_with_its_transaction(sql_store: SqlStore) -> None:
    ti = scheduled_task(sql_store)
    with pytest.raises(RuntimeError), sql_store.transaction():
        assert sql_store.task_instances.claim(ti, TaskState.SCHEDULED, TaskState.QUEUED,
                                              try_number=1)
        raise RuntimeError("executor refused")
    stored = sql_store.task_instances.get(ti.key)
    assert stored is not None and (stored.state, stored.try_number) == (TaskState.SCHEDULED, 0)


def test_nested_transactions_join_the_outer_one(sql_store: SqlStore) -> None:
    with pytest.raises(RuntimeError), sql_store.transaction():
        with sql_store.transaction():
            sql_store.runs.add(make_run(0))
        sql_store.runs.add(make_run(1))
        raise RuntimeError("after the inner block")
    assert sql_store.runs.list() == []
    with sql_store.transaction():
        with sql_store.transaction():
            sql_store.runs.add(make_run(0))
        assert sql_store.in_transaction
    assert not sql_store.in_transaction
    assert len(sql_store.runs.list()) == 1


def test_committed_work_is_visible_to_another_store_and_uncommitted_is_not(
    sql_engine: Engine,
) -> None:
    writer, reader = autocommit(SqlStore(sql_engine)), autocommit(SqlStore(sql_engine))
    try:
        with writer.transaction():
            writer.runs.add(make_run())
            if sql_engine.dialect.name == "postgresql":  # SQLite's reader would wait
                assert reader.runs.list() == []
        assert [r.run_id for r in reader.runs.list()] == ["scheduled__0"]
    finally:
        writer.close()
        reader.close()


def test_a_read_only_transaction_lets_a_writer_commit_while_it_reads(
        sql_engine: Engine) -> None:
    reader, writer = SqlStore(sql_engine), autocommit(SqlStore(sql_engine))
    try:
        writer.runs.add(make_run(0))
        committed = threading.Event()

        def write() -> None:
            with writer.transaction():
                writer.runs.add(make_run(1))
            committed.set()

        with reader.transaction(read_only=True):
            assert [r.run_id for r in reader.runs.list()] == ["scheduled__0"]
            racer = threading.Thread(target=write)
            racer.start()
            # An ordinary transaction on SQLite would hold the write lock until it ends.
            assert committed.wait(timeout=10), "the writer waited for a read-only reader"
            if sql_engine.dialect.name == "sqlite":  # one snapshot, as first read
                assert [r.run_id for r in reader.runs.list()] == ["scheduled__0"]
        racer.join(timeout=30)
        with reader.transaction(read_only=True):
            assert [r.run_id for r in reader.runs.list()] == ["scheduled__0", "scheduled__1"]
    finally:
        reader.close()
        writer.close()


def test_a_repository_call_outside_a_transaction_is_refused_and_names_the_call(
        sql_engine: Engine) -> None:
    store = SqlStore(sql_engine)
    try:
        with pytest.raises(StoreUsageError, match=r"SqlRunRepo\.add\(\) was called outside "
                                                  r"store\.transaction\(\)"):
            store.runs.add(make_run())
        assert not store.session.in_transaction()
        with store.transaction():
            assert store.runs.get("etl", "scheduled__0") is None
    finally:
        store.close()


# -- compare-and-set -------------------------------------------------------------------------------
def test_claim_waits_for_a_concurrent_claim_and_loses(sql_engine: Engine) -> None:
    first, second = autocommit(SqlStore(sql_engine)), autocommit(SqlStore(sql_engine))
    try:
        ti = scheduled_task(first)
        theirs = second.task_instances.get(ti.key)
        assert theirs is not None and theirs.state is TaskState.SCHEDULED
        outcome: list[TaskInstanceRecord | None] = []

        def claim_in_second() -> None:
            with second.transaction():
                outcome.append(second.task_instances.claim(
                    theirs, TaskState.SCHEDULED, TaskState.QUEUED, try_number=7))

        with first.transaction():
            assert first.task_instances.claim(ti, TaskState.SCHEDULED, TaskState.QUEUED,
                                              try_number=1)
            racer = threading.Thread(target=claim_in_second)
            racer.start()
            time.sleep(0.3)
            assert racer.is_alive(), "the second claim should wait for the first transaction"
        racer.join(timeout=30)
        assert outcome == [None]
        assert theirs.state is TaskState.SCHEDULED  # a lost claim changes nothing
        stored = first.task_instances.get(ti.key)
        assert stored is not None and (stored.state, stored.try_number) == (TaskState.QUEUED, 1)
    finally:
        first.close()
        second.close()


def test_many_racing_claims_have_exactly_one_winner(sql_engine: Engine) -> None:
    setup = autocommit(SqlStore(sql_engine))
    ti = scheduled_task(setup)
    setup.close()
    racers = 6
    barrier = threading.Barrier(racers)
    wins: list[int] = []
    errors: list[BaseException] = []

    def race(number: int) -> None:
        store = autocommit(SqlStore(sql_engine))
        try:
            mine = store.task_instances.get(ti.key)
            assert mine is not None
            barrier.wait(timeout=30)
            with store.transaction():
                if store.task_instances.claim(mine, TaskState.SCHEDULED, TaskState.QUEUED,
                                              try_number=number):
                    wins.append(number)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=race, args=(n,)) for n in range(1, racers + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(wins) == 1
    check = autocommit(SqlStore(sql_engine))
    stored = check.task_instances.get(ti.key)
    check.close()
    assert stored is not None and (stored.state, stored.try_number) == (TaskState.QUEUED, wins[0])


def test_set_state_from_a_stale_record_is_refused(sql_engine: Engine) -> None:
    store, other = autocommit(SqlStore(sql_engine)), autocommit(SqlStore(sql_engine))
    try:
        ti = scheduled_task(store)
        stale = other.task_instances.get(ti.key)
        assert stale is not None
        with store.transaction():
            store.task_instances.set_state(ti, TaskState.NONE)  # cleared meanwhile
        with pytest.raises(StaleRecordError, match=r"record says 'scheduled'.*says 'none'"), \
                other.transaction():
            other.task_instances.set_state(stale, TaskState.QUEUED)
        assert stale.state is TaskState.SCHEDULED
        stored = store.task_instances.get(ti.key)
        assert stored is not None and stored.state is TaskState.NONE

        run = store.runs.get("etl", "scheduled__0")
        stale_run = other.runs.get("etl", "scheduled__0")
        assert run is not None and stale_run is not None
        store.runs.set_state(run, DagRunState.RUNNING)
        with pytest.raises(StaleRecordError, match="changed since it was read"):
            other.runs.set_state(stale_run, DagRunState.FAILED)
    finally:
        store.close()
        other.close()


def test_set_state_of_a_record_not_in_the_store_is_refused(sql_store: SqlStore) -> None:
    scheduled_task(sql_store)
    ghost = TaskInstanceRecord("etl", "scheduled__0", "ghost")
    with pytest.raises(StaleRecordError, match="not in the store"):
        sql_store.task_instances.set_state(ghost, TaskState.SCHEDULED)
    with pytest.raises(StaleRecordError, match="not in the store"):
        sql_store.runs.set_state(make_run(5), DagRunState.RUNNING)


def test_dispatch_query_skips_rows_another_scheduler_holds(
    clean_postgres_engine: Engine,
) -> None:
    """PostgreSQL only: SQLite serializes writers, so there is nothing to skip there."""
    first = autocommit(SqlStore(clean_postgres_engine))
    second = autocommit(SqlStore(clean_postgres_engine))
    try:
        scheduled_task(first, "a")
        with first.transaction():
            assert [t.task_id for t in first.task_instances.dispatchable(10)] == ["a"]
            with second.transaction():
                assert second.task_instances.dispatchable(10) == []
                # plain reads are never locked: counts and timers still see the row
                assert len(second.task_instances.in_states([TaskState.SCHEDULED])) == 1
        assert len(second.task_instances.dispatchable(10)) == 1
    finally:
        first.close()
        second.close()


# -- input checks and time zones -------------------------------------------------------------------
def test_naive_datetimes_are_refused_with_the_field_named(sql_store: SqlStore) -> None:
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="'logical_date' is a naive datetime"):
        sql_store.runs.add(DagRunRecord("etl", "r", naive, DAY, DAY))
    ti = scheduled_task(sql_store)
    with pytest.raises(ValueError, match="'end_date' is a naive datetime"):
        sql_store.task_instances.set_state(ti, TaskState.SKIPPED, end_date=naive)
    stored = sql_store.task_instances.get(ti.key)
    assert stored is not None and stored.state is TaskState.SCHEDULED


def test_key_fields_cannot_change_through_set_state(sql_store: SqlStore) -> None:
    ti = scheduled_task(sql_store)
    with pytest.raises(ValueError, match="'map_index' identifies the record"):
        sql_store.task_instances.set_state(ti, TaskState.QUEUED, map_index=3)


def test_datetimes_come_back_in_utc(sql_store: SqlStore) -> None:
    with sql_store.transaction():
        sql_store.runs.add(make_run())
    run = sql_store.runs.get("etl", "scheduled__0")
    assert run is not None and run.logical_date.tzinfo is UTC


def test_task_instances_need_their_run(sql_store: SqlStore) -> None:
    with pytest.raises(ValueError, match="has no run 'nope'"):
        sql_store.task_instances.add_many([TaskInstanceRecord("etl", "nope", "a")])


def test_deleting_a_run_deletes_what_belongs_to_it(sql_store: SqlStore) -> None:
    ti = scheduled_task(sql_store)
    sql_store.xcoms.set_many(ti.key, [("k", "1")])
    with sql_store.transaction():
        sql_store.session.execute(text("DELETE FROM dag_run"))
    assert sql_store.task_instances.get(ti.key) is None
    assert sql_store.xcoms.get_xcom("etl", ti.run_id, ti.task_id, -1, "k") is None
