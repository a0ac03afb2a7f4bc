"""The services over the in-memory store: checked transitions, audit records, refusals as
the domain's errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from millstream.exceptions import ConflictError, InvalidInputError, NotFoundError
from millstream.model.states import DagRunState, InvalidTransition, TaskState
from millstream.services import backfill, clear, mark, pause, pools, runs, trigger
from millstream.store import audit
from millstream.store.memory import MemoryStore
from millstream.store.records import DagRunRecord, TaskInstanceKey, TaskInstanceRecord
from tests.autocommit import autocommit

NOW = datetime(2026, 1, 10, tzinfo=UTC)


@dataclass
class Node:
    downstream_task_ids: set[str] = field(default_factory=set)
    retries: int = 0
    upstream_task_ids: set[str] = field(default_factory=set)
    is_setup: bool = False
    is_teardown: bool = False
    on_failure_fail_dagrun: bool = False


@dataclass
class Graph:
    """a >> b >> c, and d on its own; b has two retries."""

    task_dict: dict[str, Node] = field(default_factory=lambda: {
        "a": Node({"b"}), "b": Node({"c"}, retries=2), "c": Node(), "d": Node(),
    })


def new_run(day: int = 1, run_id: str | None = None, dag_id: str = "etl") -> trigger.NewRun:
    logical = datetime(2026, 1, day, tzinfo=UTC)
    run = DagRunRecord(dag_id, run_id or f"manual__{day}", logical, logical,
                       logical + timedelta(days=1), queued_at=NOW)
    tasks = tuple(TaskInstanceRecord(dag_id, run.run_id, t) for t in "abcd")
    return trigger.NewRun(run, tasks)


@pytest.fixture
def store() -> MemoryStore:
    store = autocommit(MemoryStore())
    store.dags.upsert("etl", "/dags/etl.py", "{}", "v1", NOW)
    return store


def ti(store: MemoryStore, task_id: str, run_id: str = "manual__1") -> TaskInstanceRecord:
    found = store.task_instances.get(TaskInstanceKey("etl", run_id, task_id))
    assert found is not None
    return found


def test_trigger_adds_the_run_and_audits_it(store: MemoryStore) -> None:
    run = trigger.add_run(store, new_run(), "ann", NOW)
    assert store.runs.get("etl", run.run_id) == run
    assert len(store.task_instances.for_run("etl", run.run_id)) == 4
    (entry,) = store.audit.list()
    assert (entry.event, entry.who, entry.run_id) == ("trigger", "ann", "manual__1")
    with pytest.raises(ConflictError, match="already has a run 'manual__1'"):
        trigger.add_run(store, new_run(day=2, run_id="manual__1"), "ann", NOW)
    with pytest.raises(ConflictError, match="logical date"):
        trigger.add_run(store, new_run(run_id="other"), "ann", NOW)
    with pytest.raises(NotFoundError, match="no DAG 'nope'"):
        trigger.add_run(store, new_run(dag_id="nope"), "ann", NOW)


def test_backfill_skips_taken_dates(store: MemoryStore) -> None:
    trigger.add_run(store, new_run(day=2), "ann", NOW)
    planned = [new_run(day=d, run_id=f"backfill__{d}") for d in (1, 2, 3)]
    result = backfill.add_backfill_runs(store, "etl", planned, "ann", NOW)
    assert [r.run_id for r in result.created] == ["backfill__1", "backfill__3"]
    assert [r.run_id for r in result.existing] == ["manual__2"]
    again = backfill.add_backfill_runs(store, "etl", planned, "ann", NOW)
    assert again.created == [] and len(again.existing) == 3
    assert [a.event for a in store.audit.list()] == ["backfill", "trigger"]


def test_set_paused(store: MemoryStore) -> None:
    assert pause.set_paused(store, "etl", True, "ann", NOW) is True
    assert pause.set_paused(store, "etl", True, "ann", NOW) is False
    record = store.dags.get("etl")
    assert record is not None and record.is_paused
    assert [a.event for a in store.audit.list()] == ["pause"]
    with pytest.raises(NotFoundError):
        pause.set_paused(store, "nope", True, "ann", NOW)


def test_select_tasks() -> None:
    graph = Graph()
    assert clear.select_tasks(graph) == {"a", "b", "c", "d"}
    assert clear.select_tasks(graph, "^b$") == {"b"}
    assert clear.select_tasks(graph, "^b$", downstream=True) == {"b", "c"}
    assert clear.select_tasks(graph, "^b$", upstream=True) == {"a", "b"}
    assert clear.select_tasks(graph, "a|d", downstream=True) == {"a", "b", "c", "d"}
    with pytest.raises(InvalidInputError, match="bad task regex"):
        clear.select_tasks(graph, "(")


def test_select_tasks_brings_the_setup_and_teardown_of_a_task_in_their_scope() -> None:
    graph = Graph({
        "create": Node({"work", "delete"}, is_setup=True),
        "work": Node({"delete"}, upstream_task_ids={"create"}),
        "delete": Node(upstream_task_ids={"create", "work"}, is_teardown=True),
        "other": Node(),
    })
    assert clear.select_tasks(graph, "^work$") == {"create", "work", "delete"}
    assert clear.select_tasks(graph, "^create$") == {"create", "delete"}
    assert clear.select_tasks(graph, "^other$") == {"other"}


def finish(store: MemoryStore, task_id: str, state: TaskState, tries: int = 1) -> None:
    record = ti(store, task_id)
    for step in (TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING):
        record = store.task_instances.set_state(record, step)
    store.task_instances.set_state(record, state, try_number=tries, end_date=NOW,
                                   error="boom" if state is TaskState.FAILED else None)


def test_clear_resets_finished_instances_and_requeues_a_finished_run(store: MemoryStore) -> None:
    run = trigger.add_run(store, new_run(), "ann", NOW)
    finish(store, "a", TaskState.SUCCESS)
    finish(store, "b", TaskState.FAILED, tries=3)
    store.task_instances.set_state(ti(store, "c"), TaskState.UPSTREAM_FAILED)
    store.xcoms.set_many(ti(store, "b").key, [("return_value", "1")])
    run = store.runs.set_state(run, DagRunState.RUNNING)
    store.runs.set_state(run, DagRunState.FAILED, end_date=NOW)

    ids = clear.select_tasks(Graph(), "^b$", downstream=True)
    assert [t.task_id for t in clear.clearable(store, "etl", ["manual__1"], ids)] == ["b", "c"]
    result = clear.clear(store, Graph(), "etl", ["manual__1"], ids, "ann", NOW,
                           only_failed=True)
    assert sorted(t.task_id for t in result.cleared) == ["b", "c"]
    assert [r.run_id for r in result.requeued] == ["manual__1"]
    run = store.runs.get("etl", "manual__1")
    assert run.state is DagRunState.QUEUED and run.end_date is None
    b = ti(store, "b")
    assert (b.state, b.try_number, b.max_tries, b.error, b.end_date) == (
        TaskState.NONE, 3, 5, None, None)
    assert store.xcoms.get_xcom("etl", "manual__1", "b", -1, "return_value") is None
    assert ti(store, "a").state is TaskState.SUCCESS
    assert ti(store, "d").state is TaskState.NONE
    assert store.audit.list()[0].event == "clear"


def test_clear_leaves_a_running_run_and_unfinished_tasks_alone(store: MemoryStore) -> None:
    run = trigger.add_run(store, new_run(), "ann", NOW)
    store.runs.set_state(run, DagRunState.RUNNING)
    finish(store, "a", TaskState.SUCCESS)
    store.task_instances.set_state(ti(store, "b"), TaskState.SCHEDULED)
    result = clear.clear(store, Graph(), "etl", ["manual__1"], {"a", "b"}, "ann", NOW)
    assert [t.task_id for t in result.cleared] == ["a"] and result.requeued == []
    assert store.runs.get("etl", run.run_id).state is DagRunState.RUNNING
    assert ti(store, "b").state is TaskState.SCHEDULED


def test_mark_task_and_run(store: MemoryStore) -> None:
    run = trigger.add_run(store, new_run(), "ann", NOW)
    store.runs.set_state(run, DagRunState.RUNNING)
    finish(store, "a", TaskState.FAILED)
    mark.mark_task(store, ti(store, "a").key, "success", "ann", NOW)
    assert ti(store, "a").state is TaskState.SUCCESS
    with pytest.raises(InvalidInputError, match="success or failed"):
        mark.mark_task(store, ti(store, "a").key, "running", "ann", NOW)
    with pytest.raises(InvalidTransition):
        mark.mark_task(store, ti(store, "a").key, "success", "ann", NOW)
    for step in (TaskState.SCHEDULED, TaskState.QUEUED):
        store.task_instances.set_state(ti(store, "b"), step)
    mark.mark_run(store, "etl", "manual__1", "failed", "ann", NOW)
    assert store.runs.get("etl", run.run_id).state is DagRunState.FAILED
    assert {t.task_id: t.state for t in store.task_instances.for_run("etl", "manual__1")} == {
        "a": TaskState.SUCCESS, "b": TaskState.FAILED, "c": TaskState.SKIPPED,
        "d": TaskState.SKIPPED,
    }
    events = [a.event for a in store.audit.list()]
    assert events[:2] == ["mark_run_failed", "mark_success"]


def test_claim_for_manual_try(store: MemoryStore) -> None:
    trigger.add_run(store, new_run(), "ann", NOW)
    claimed = runs.claim_for_manual_try(store, ti(store, "a").key, "ann", NOW)
    assert (claimed.state, claimed.try_number) == (TaskState.QUEUED, 1)
    with pytest.raises(ConflictError, match="is queued"):
        runs.claim_for_manual_try(store, ti(store, "a").key, "ann", NOW)
    finish(store, "b", TaskState.FAILED)
    with pytest.raises(ConflictError, match="--force"):
        runs.claim_for_manual_try(store, ti(store, "b").key, "ann", NOW)
    forced = runs.claim_for_manual_try(store, ti(store, "b").key, "ann", NOW, force=True)
    assert (forced.state, forced.try_number) == (TaskState.QUEUED, 2)
    with pytest.raises(NotFoundError):
        runs.claim_for_manual_try(store, TaskInstanceKey("etl", "manual__1", "zz"), "ann",
                                     NOW)


def test_pools(store: MemoryStore) -> None:
    pools.set_pool(store, "db", 3, "ann", NOW, "the warehouse")
    pools.set_pool(store, "db", 4, "ann", NOW)
    assert ("db", 4, "the warehouse") in store.pools.list()
    with pytest.raises(InvalidInputError, match="slots must be a whole number from 0"):
        pools.set_pool(store, "db", -1, "ann", NOW)
    with pytest.raises(ConflictError, match="cannot be deleted"):
        pools.delete_pool(store, "default_pool", "ann", NOW)
    pools.delete_pool(store, "db", "ann", NOW)
    with pytest.raises(NotFoundError, match="no pool 'db'"):
        pools.delete_pool(store, "db", "ann", NOW)
    assert [a.event for a in store.audit.list()] == ["pool_delete", "pool_set", "pool_set"]


def test_current_user_is_never_empty() -> None:
    assert audit.current_user()
