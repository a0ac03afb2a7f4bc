"""Reading a run's instances while holding the run's row (every store; PostgreSQL in one
statement)."""

from __future__ import annotations

from datetime import UTC, datetime

from millstream.model.states import DagRunState
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceRecord

START = datetime(2026, 3, 1, 12, tzinfo=UTC)
RUN = DagRunRecord("etl", "manual__1", START, START, START, run_type="manual",
                   state=DagRunState.RUNNING)


def _add(store: Store) -> None:
    with store.transaction():
        store.runs.add(RUN)
        store.task_instances.add_many([TaskInstanceRecord("etl", RUN.run_id, name)
                                       for name in ("extract", "load", "report")])


def test_the_instances_asked_for_and_the_run_as_it_is(store: Store) -> None:
    _add(store)
    with store.transaction():
        instances, run = store.task_instances.for_run_holding_run(
            "etl", RUN.run_id, ["load", "extract", "missing"])
        assert [ti.task_id for ti in instances] == ["extract", "load"]
        assert run == store.runs.get("etl", RUN.run_id)
        none_asked, same = store.task_instances.for_run_holding_run("etl", RUN.run_id, [])
        assert (none_asked, same) == ([], run)
        assert store.task_instances.for_run_holding_run("etl", "gone", ["load"]) == ([], None)


def test_a_run_held_elsewhere_is_none_and_its_instances_are_read_all_the_same(
    two_postgres_stores: tuple[Store, Store],
) -> None:
    first, second = two_postgres_stores
    _add(first)
    with first.transaction():
        instances, run = first.task_instances.for_run_holding_run("etl", RUN.run_id, ["load"])
        assert run is not None and [ti.task_id for ti in instances] == ["load"]
        with second.transaction():  # the first transaction holds the run's row
            assert second.runs.lock("etl", RUN.run_id) is None
            instances, held = second.task_instances.for_run_holding_run(
                "etl", RUN.run_id, ["load", "report"])
            assert held is None
            assert [ti.task_id for ti in instances] == ["load", "report"]
    with second.transaction():
        assert second.runs.lock("etl", RUN.run_id) is not None
