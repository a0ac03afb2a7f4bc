"""The store contract for the schedule's resume point and the change signal (every store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, text

from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord
from millstream.store.sql import SqlStore

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def _run(dag_id: str, day: int, run_type: str) -> DagRunRecord:
    logical = DAY + timedelta(days=day)
    return DagRunRecord(dag_id=dag_id, run_id=f"{run_type}__{logical.isoformat()}",
                        logical_date=logical, data_interval_start=logical,
                        data_interval_end=logical + timedelta(days=1), run_type=run_type)


def _dags(store: Store, *dag_ids: str) -> None:
    for dag_id in dag_ids:
        store.dags.upsert(dag_id, f"/dags/{dag_id}.py", "{}", "v1", DAY)


def test_latest_scheduled_is_the_newest_scheduled_run_of_each_dag(store: Store) -> None:
    with store.transaction():
        _dags(store, "etl", "report", "adhoc")
        for day in range(5):
            store.runs.add(_run("etl", day, "scheduled"))
        for day in range(5, 20):  # newer manual runs do not move the resume point
            store.runs.add(_run("etl", day, "manual"))
        store.runs.add(_run("report", 2, "scheduled"))
        store.runs.add(_run("report", 7, "backfill"))
        store.runs.add(_run("adhoc", 1, "manual"))
    with store.transaction():
        latest = store.runs.latest_scheduled(["etl", "report", "adhoc", "unknown"])
        one = store.runs.latest_scheduled(["etl"])
        none = store.runs.latest_scheduled([])
    assert {d: r.logical_date for d, r in latest.items()} == {
        "etl": DAY + timedelta(days=4), "report": DAY + timedelta(days=2),
    }
    assert latest["etl"].run_id == f"scheduled__{(DAY + timedelta(days=4)).isoformat()}"
    assert latest["etl"].data_interval_end == DAY + timedelta(days=5)
    assert list(one) == ["etl"] and one["etl"] == latest["etl"]
    assert none == {}


def test_a_dag_the_store_does_not_hold_has_no_resume_point(store: Store) -> None:
    with store.transaction():
        store.runs.add(_run("removed", 3, "scheduled"))
        assert store.runs.latest_scheduled(["removed"]) == {}
        _dags(store, "removed")
        assert list(store.runs.latest_scheduled(["removed"])) == ["removed"]


def test_the_change_signal_moves_with_each_bump_and_only_when_committed(store: Store) -> None:
    with store.transaction():
        before = store.signals.current()
        store.signals.bump()
        store.signals.bump()
    with store.transaction():
        assert store.signals.current() == before + 2


def test_a_rolled_back_bump_is_not_seen_by_another_store(sql_store: SqlStore) -> None:
    raw: SqlStore = sql_store.raw  # type: ignore[attr-defined]
    other = SqlStore(raw.engine)
    try:
        with other.transaction():
            before = other.signals.current()
        try:
            with raw.transaction():
                raw.signals.bump()
                raise RuntimeError("the writer failed")
        except RuntimeError:
            pass
        with raw.transaction():
            raw.signals.bump()
        with other.transaction():
            assert other.signals.current() == before + 1
    finally:
        other.close()


def test_an_emptied_signal_table_gets_its_row_back_on_the_next_bump(
    sql_store: SqlStore,
) -> None:
    raw: SqlStore = sql_store.raw  # type: ignore[attr-defined]
    with raw.engine.begin() as connection:
        connection.execute(text("DELETE FROM change_signal"))
    with raw.transaction():
        assert raw.signals.current() == 0
        raw.signals.bump()
        raw.signals.bump()
        assert raw.signals.current() == 2


def test_the_resume_point_is_an_index_seek_on_sqlite(sqlite_engine: Engine) -> None:
    """The statement the store really sends reads one index entry per DAG: no scan of the
    history, no sort of it."""
    store = SqlStore(sqlite_engine)
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        sent.append((statement, parameters))

    try:
        with store.transaction():
            _dags(store, "etl", "other")
            for day in range(400):
                store.runs.add(_run("etl", day, "scheduled" if day % 3 else "manual"))
                store.runs.add(_run("other", day, "scheduled"))
        event.listen(sqlite_engine, "before_cursor_execute", capture)
        try:
            with store.transaction():
                latest = store.runs.latest_scheduled(["etl"])
        finally:
            event.remove(sqlite_engine, "before_cursor_execute", capture)
        assert latest["etl"].logical_date == DAY + timedelta(days=398)
        [(statement, parameters)] = [(s, p) for s, p in sent if "dag_run" in s]
        with sqlite_engine.connect() as connection:
            plan = " | ".join(str(row[-1]) for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert len(connection.exec_driver_sql(statement, parameters).all()) == 1
        assert "USING COVERING INDEX ix_dag_run_resume (dag_id=? AND run_type=?)" in plan, plan
        assert "TEMP B-TREE" not in plan, plan  # the index gives the order: nothing is sorted
    finally:
        store.close()
