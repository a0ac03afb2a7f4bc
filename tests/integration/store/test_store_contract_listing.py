"""The store contract for the REST API's pages of long lists (``store.listing``).

Each test runs once per store kind (memory, SQLite, PostgreSQL) through the ``store`` fixture.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from millstream.model.states import DagRunState, TaskState
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceKey, TaskInstanceRecord

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def _add_run(store: Store, dag_id: str, run_id: str, day: int,
             state: DagRunState = DagRunState.QUEUED) -> None:
    start = DAY + timedelta(days=day)
    store.runs.add(DagRunRecord(dag_id, run_id, start, start, start + timedelta(days=1),
                                "scheduled", state))


def _runs(store: Store) -> None:
    """etl: five runs on days 0-4 (day 1 failed, day 3 running); other: one run on day 2,
    the same logical date as etl's third."""
    states = {1: DagRunState.FAILED, 3: DagRunState.RUNNING}
    with store.transaction():
        for day in range(5):
            _add_run(store, "etl", f"r{day}", day, states.get(day, DagRunState.QUEUED))
        _add_run(store, "other", "o2", 2)


def _ids(page: object) -> list[str]:
    return [r.run_id for r in page.items]  # type: ignore[attr-defined]


def test_runs_are_paged_newest_or_oldest_first_with_the_total(store: Store) -> None:
    _runs(store)
    newest = store.listing.runs("etl", None, True, 2)
    assert (_ids(newest), newest.total) == (["r4", "r3"], 5)
    middle = store.listing.runs("etl", None, True, 2, offset=2)
    assert (_ids(middle), middle.total) == (["r2", "r1"], 5)
    last = store.listing.runs("etl", None, True, 2, offset=4)
    assert (_ids(last), last.total) == (["r0"], 5)
    oldest = store.listing.runs("etl", None, False, 3)
    assert (_ids(oldest), oldest.total) == (["r0", "r1", "r2"], 5)
    whole = store.listing.runs("etl", None, False, 100)
    assert (_ids(whole), whole.total) == (["r0", "r1", "r2", "r3", "r4"], 5)
    first = whole.items[0]
    assert (first.dag_id, first.logical_date, first.run_type, first.state) == (
        "etl", DAY, "scheduled", DagRunState.QUEUED)


def test_runs_of_every_dag_break_ties_by_dag_and_run_id(store: Store) -> None:
    _runs(store)
    with store.transaction():
        _add_run(store, "other", "o0", 0)
    oldest = store.listing.runs(None, None, False, 4)
    assert ([(r.dag_id, r.run_id) for r in oldest.items], oldest.total) == (
        [("etl", "r0"), ("other", "o0"), ("etl", "r1"), ("etl", "r2")], 7)
    newest = store.listing.runs(None, None, True, 4, offset=1)
    assert [(r.dag_id, r.run_id) for r in newest.items] == [
        ("etl", "r3"), ("other", "o2"), ("etl", "r2"), ("etl", "r1")]


def test_runs_filtered_by_state_are_counted_after_the_filter(store: Store) -> None:
    _runs(store)
    failed = store.listing.runs("etl", [DagRunState.FAILED], True, 10)
    assert (_ids(failed), failed.total) == (["r1"], 1)
    unfinished = store.listing.runs(None, {DagRunState.QUEUED, DagRunState.RUNNING}, True, 2,
                                    offset=1)
    assert (_ids(unfinished), unfinished.total) == (["r3", "o2"], 5)
    assert store.listing.runs("etl", [DagRunState.SUCCESS], True, 10).total == 0
    assert store.listing.runs("etl", [], True, 10).total == 0


def test_an_empty_page_still_tells_the_lists_length(store: Store) -> None:
    _runs(store)
    past_the_end = store.listing.runs("etl", None, True, 10, offset=50)
    assert (past_the_end.items, past_the_end.total) == ([], 5)
    nothing = store.listing.runs("etl", None, True, 0)
    assert (nothing.items, nothing.total) == ([], 5)
    unknown = store.listing.runs("nope", None, True, 10)
    assert (unknown.items, unknown.total) == ([], 0)
    exactly = store.listing.runs("etl", None, True, 5)
    assert (len(exactly.items), exactly.total) == (5, 5)
    beyond_any_database = store.listing.runs("etl", None, True, 2**70, offset=2**70)
    assert (beyond_any_database.items, beyond_any_database.total) == ([], 5)
    assert len(store.listing.dags(True, None, None, 2**70).items) == 0


def test_task_instances_of_a_run_by_task_and_map_index(store: Store) -> None:
    _runs(store)
    with store.transaction():
        store.task_instances.add_many(
            [TaskInstanceRecord("etl", "r2", "load")]
            + [TaskInstanceRecord("etl", "r2", "square", index) for index in (10, 2, 0, 1)]
            + [TaskInstanceRecord("etl", "r2", "extract"), TaskInstanceRecord("etl", "r3", "x")])
        extract = store.task_instances.get(TaskInstanceKey("etl", "r2", "extract"))
        assert extract is not None
        store.task_instances.set_state(extract, TaskState.SCHEDULED)
    page = store.listing.task_instances("etl", "r2", None, 4)
    assert ([ti.label for ti in page.items], page.total) == (
        ["extract", "load", "square[0]", "square[1]"], 6)
    rest = store.listing.task_instances("etl", "r2", None, 4, offset=4)
    assert ([ti.label for ti in rest.items], rest.total) == (["square[2]", "square[10]"], 6)
    scheduled = store.listing.task_instances("etl", "r2", [TaskState.SCHEDULED], 10)
    assert ([ti.label for ti in scheduled.items], scheduled.total) == (["extract"], 1)
    assert scheduled.items[0].state is TaskState.SCHEDULED
    waiting = store.listing.task_instances("etl", "r2", [TaskState.NONE], 1, offset=1)
    assert ([ti.label for ti in waiting.items], waiting.total) == (["square[0]"], 5)
    assert store.listing.task_instances("etl", "r9", None, 10).total == 0


def test_xcom_entries_of_an_instance_by_key(store: Store) -> None:
    _runs(store)
    key = TaskInstanceKey("etl", "r1", "extract")
    with store.transaction():
        store.task_instances.add_many([TaskInstanceRecord("etl", "r1", "extract"),
                                       TaskInstanceRecord("etl", "r1", "load")])
        store.xcoms.set_many(key, [("return_value", "[1, 2]"), ("b", '"two"'), ("a", "1")])
        store.xcoms.set_many(TaskInstanceKey("etl", "r1", "load"), [("c", "3")])
    page = store.listing.xcom_entries(key, 2)
    assert (page.items, page.total) == ([("a", "1"), ("b", '"two"')], 3)
    rest = store.listing.xcom_entries(key, 2, offset=2)
    assert (rest.items, rest.total) == ([("return_value", "[1, 2]")], 3)
    none = store.listing.xcom_entries(TaskInstanceKey("etl", "r1", "extract", 0), 10)
    assert (none.items, none.total) == ([], 0)


def test_dags_filtered_by_activity_pause_and_id(store: Store) -> None:
    with store.transaction():
        for dag_id in ("Sales_2026", "sales-2026", "salesX2026", "hr", "gone"):
            store.dags.upsert(dag_id, f"/d/{dag_id}.py", "{}", "v1", DAY)
        store.dags.set_paused("hr", True)
        store.dags.deactivate_missing([], ["/d/gone.py"])

    def ids(active_only: bool = True, paused: bool | None = None, id_contains: str | None = None,
            limit: int | None = None, offset: int = 0) -> tuple[list[str], int]:
        page = store.listing.dags(active_only, paused, id_contains, limit, offset)
        return [d.dag_id for d in page.items], page.total

    assert ids() == (["Sales_2026", "hr", "sales-2026", "salesX2026"], 4)
    assert ids(active_only=False) == (["Sales_2026", "gone", "hr", "sales-2026", "salesX2026"],
                                      5)
    assert ids(paused=True) == (["hr"], 1)
    assert ids(paused=False, limit=2, offset=1) == (["sales-2026", "salesX2026"], 3)
    assert ids(id_contains="SALES", limit=2) == (["Sales_2026", "sales-2026"], 3)
    # LIKE's wildcards in the text are plain characters
    assert ids(id_contains="s_2") == (["Sales_2026"], 1)
    assert ids(id_contains="%") == ([], 0)
    assert ids(id_contains="gone") == ([], 0)
    assert ids(active_only=False, id_contains="gone") == (["gone"], 1)
    record = store.listing.dags(True, True, None, 1).items[0]
    assert (record.fileloc, record.is_paused, record.latest_version) == ("/d/hr.py", True, "v1")


@pytest.mark.parametrize(("limit", "offset", "named"), [(-1, 0, "limit"), (5, -2, "offset")])
def test_a_negative_limit_or_offset_is_refused(store: Store, limit: int, offset: int,
                                               named: str) -> None:
    _runs(store)
    with pytest.raises(ValueError, match=f"a page's {named} must be 0 or more"):
        store.listing.runs("etl", None, True, limit, offset)
    with pytest.raises(ValueError, match=f"a page's {named} must be 0 or more"):
        store.listing.dags(True, None, None, limit, offset)
