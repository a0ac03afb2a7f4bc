"""Tests of the task and run state enums and their transition tables."""

from __future__ import annotations

import itertools
import pickle
from collections import deque

import pytest

from millstream.exceptions import ConflictError
from millstream.model.states import (
    FINISHED_RUN_STATES,
    FINISHED_TASK_STATES,
    RUN_TRANSITIONS,
    TASK_TRANSITIONS,
    UNFINISHED_RUN_STATES,
    UNFINISHED_TASK_STATES,
    DagRunState,
    InvalidTransition,
    TaskState,
    check_run_transition,
    check_transition,
)

T = TaskState
R = DagRunState

# The specification of the task table, written out edge by edge so that any
# change to the table has to be made here too, deliberately.
EXPECTED_TASK_EDGES: set[tuple[TaskState, TaskState]] = {
    (T.NONE, T.SCHEDULED),
    (T.NONE, T.SKIPPED),
    (T.NONE, T.UPSTREAM_FAILED),
    (T.NONE, T.REMOVED),
    (T.NONE, T.SUCCESS),
    (T.NONE, T.FAILED),
    (T.SCHEDULED, T.QUEUED),
    (T.SCHEDULED, T.NONE),
    (T.SCHEDULED, T.SKIPPED),
    (T.SCHEDULED, T.UPSTREAM_FAILED),
    (T.SCHEDULED, T.REMOVED),
    (T.SCHEDULED, T.SUCCESS),
    (T.SCHEDULED, T.FAILED),
    (T.QUEUED, T.RUNNING),
    (T.QUEUED, T.SCHEDULED),
    (T.QUEUED, T.UP_FOR_RETRY),
    (T.QUEUED, T.NONE),
    (T.QUEUED, T.SUCCESS),
    (T.QUEUED, T.FAILED),
    (T.QUEUED, T.SKIPPED),
    (T.QUEUED, T.UP_FOR_RESCHEDULE),
    (T.QUEUED, T.DEFERRED),
    (T.RUNNING, T.SUCCESS),
    (T.RUNNING, T.FAILED),
    (T.RUNNING, T.SKIPPED),
    (T.RUNNING, T.UP_FOR_RETRY),
    (T.RUNNING, T.UP_FOR_RESCHEDULE),
    (T.RUNNING, T.DEFERRED),
    (T.RUNNING, T.NONE),
    (T.UP_FOR_RETRY, T.SCHEDULED),
    (T.UP_FOR_RETRY, T.NONE),
    (T.UP_FOR_RETRY, T.SUCCESS),
    (T.UP_FOR_RETRY, T.FAILED),
    (T.UP_FOR_RETRY, T.SKIPPED),
    (T.UP_FOR_RETRY, T.UPSTREAM_FAILED),
    (T.UP_FOR_RETRY, T.REMOVED),
    (T.UP_FOR_RESCHEDULE, T.SCHEDULED),
    (T.UP_FOR_RESCHEDULE, T.NONE),
    (T.UP_FOR_RESCHEDULE, T.SUCCESS),
    (T.UP_FOR_RESCHEDULE, T.FAILED),
    (T.UP_FOR_RESCHEDULE, T.SKIPPED),
    (T.UP_FOR_RESCHEDULE, T.REMOVED),
    (T.DEFERRED, T.SCHEDULED),
    (T.DEFERRED, T.UP_FOR_RETRY),
    (T.DEFERRED, T.NONE),
    (T.DEFERRED, T.SUCCESS),
    (T.DEFERRED, T.FAILED),
    (T.DEFERRED, T.SKIPPED),
    (T.SUCCESS, T.NONE),
    (T.SUCCESS, T.FAILED),
    (T.FAILED, T.NONE),
    (T.FAILED, T.SUCCESS),
    (T.SKIPPED, T.NONE),
    (T.SKIPPED, T.SUCCESS),
    (T.SKIPPED, T.FAILED),
    (T.UPSTREAM_FAILED, T.NONE),
    (T.UPSTREAM_FAILED, T.SUCCESS),
    (T.UPSTREAM_FAILED, T.FAILED),
    (T.REMOVED, T.NONE),
}

EXPECTED_RUN_EDGES: set[tuple[DagRunState, DagRunState]] = {
    (R.QUEUED, R.RUNNING),
    (R.QUEUED, R.SUCCESS),
    (R.QUEUED, R.FAILED),
    (R.RUNNING, R.SUCCESS),
    (R.RUNNING, R.FAILED),
    (R.SUCCESS, R.QUEUED),
    (R.SUCCESS, R.FAILED),
    (R.FAILED, R.QUEUED),
    (R.FAILED, R.SUCCESS),
}

ALL_TASK_PAIRS = list(itertools.product(TaskState, repeat=2))
ALL_RUN_PAIRS = list(itertools.product(DagRunState, repeat=2))


def _pair_id(pair: tuple[object, object]) -> str:
    return f"{pair[0]}->{pair[1]}"


# ---------------------------------------------------------------- enums


def test_task_state_values() -> None:
    assert [s.value for s in TaskState] == [
        "none",
        "scheduled",
        "queued",
        "running",
        "success",
        "failed",
        "skipped",
        "upstream_failed",
        "up_for_retry",
        "up_for_reschedule",
        "deferred",
        "removed",
    ]


def test_run_state_values() -> None:
    assert [s.value for s in DagRunState] == ["queued", "running", "success", "failed"]


@pytest.mark.parametrize("state", [*TaskState, *DagRunState], ids=str)
def test_states_are_strings_that_print_as_their_value(state: TaskState | DagRunState) -> None:
    assert isinstance(state, str)
    assert str(state) == state.value
    assert f"{state}" == state.value
    assert state == state.value


def test_state_round_trips_from_its_value() -> None:
    for state in TaskState:
        assert TaskState(state.value) is state
    for run_state in DagRunState:
        assert DagRunState(run_state.value) is run_state


def test_finished_and_unfinished_task_states_partition_all_states() -> None:
    assert {T.SUCCESS, T.FAILED, T.SKIPPED, T.UPSTREAM_FAILED, T.REMOVED} == FINISHED_TASK_STATES
    assert FINISHED_TASK_STATES.isdisjoint(UNFINISHED_TASK_STATES)
    assert set(TaskState) == FINISHED_TASK_STATES | UNFINISHED_TASK_STATES
    assert T.NONE in UNFINISHED_TASK_STATES


def test_finished_and_unfinished_run_states_partition_all_states() -> None:
    assert {R.SUCCESS, R.FAILED} == FINISHED_RUN_STATES
    assert {R.QUEUED, R.RUNNING} == UNFINISHED_RUN_STATES


# ---------------------------------------------------------------- task table


def test_task_table_has_every_state_as_a_key() -> None:
    assert set(TASK_TRANSITIONS) == set(TaskState)


def test_task_table_is_exactly_the_specified_edges() -> None:
    actual = {(old, new) for old, targets in TASK_TRANSITIONS.items() for new in targets}
    assert actual == EXPECTED_TASK_EDGES


def test_task_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        TASK_TRANSITIONS[T.NONE] = frozenset()  # type: ignore[index]


@pytest.mark.parametrize("pair", ALL_TASK_PAIRS, ids=_pair_id)
def test_every_task_transition_is_allowed_or_refused_per_table(
    pair: tuple[TaskState, TaskState],
) -> None:
    old, new = pair
    if pair in EXPECTED_TASK_EDGES:
        assert check_transition(old, new) is new
        assert check_transition(old.value, new.value) is new
    else:
        with pytest.raises(InvalidTransition) as info:
            check_transition(old, new)
        assert info.value.current == old.value
        assert info.value.new == new.value
        assert f"'{old.value}'" in str(info.value)
        assert f"'{new.value}'" in str(info.value)


@pytest.mark.parametrize("state", list(TaskState), ids=str)
def test_no_task_state_transitions_to_itself(state: TaskState) -> None:
    with pytest.raises(InvalidTransition):
        check_transition(state, state)


@pytest.mark.parametrize("state", sorted(FINISHED_TASK_STATES), ids=str)
def test_every_finished_task_can_be_cleared(state: TaskState) -> None:
    assert check_transition(state, T.NONE) is T.NONE


@pytest.mark.parametrize("state", sorted(FINISHED_TASK_STATES - {T.REMOVED, T.SUCCESS}), ids=str)
def test_finished_tasks_can_be_marked_success(state: TaskState) -> None:
    assert check_transition(state, T.SUCCESS) is T.SUCCESS


@pytest.mark.parametrize("state", sorted(FINISHED_TASK_STATES - {T.REMOVED, T.FAILED}), ids=str)
def test_finished_tasks_can_be_marked_failed(state: TaskState) -> None:
    assert check_transition(state, T.FAILED) is T.FAILED


@pytest.mark.parametrize("state", sorted(UNFINISHED_TASK_STATES), ids=str)
def test_every_unfinished_task_can_be_stopped_with_its_run(state: TaskState) -> None:
    # dagrun_timeout / mark run failed: fail or skip whatever has not finished.
    assert check_transition(state, T.FAILED) is T.FAILED
    assert check_transition(state, T.SKIPPED) is T.SKIPPED
    assert check_transition(state, T.SUCCESS) is T.SUCCESS


def test_only_scheduled_tasks_are_queued() -> None:
    # The dispatcher's compare-and-set "scheduled -> queued" is the only way to a worker.
    sources = {old for old, targets in TASK_TRANSITIONS.items() if T.QUEUED in targets}
    assert sources == {T.SCHEDULED}


def test_only_queued_tasks_start_running() -> None:
    sources = {old for old, targets in TASK_TRANSITIONS.items() if T.RUNNING in targets}
    assert sources == {T.QUEUED}


def test_removed_task_can_only_come_back() -> None:
    assert TASK_TRANSITIONS[T.REMOVED] == {T.NONE}


def test_every_task_state_is_reachable_from_none() -> None:
    seen = {T.NONE}
    todo = deque([T.NONE])
    while todo:
        for nxt in TASK_TRANSITIONS[todo.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(TaskState)


@pytest.mark.parametrize("state", sorted(UNFINISHED_TASK_STATES), ids=str)
def test_every_unfinished_task_state_has_a_way_out(state: TaskState) -> None:
    assert TASK_TRANSITIONS[state]
    assert TASK_TRANSITIONS[state] & FINISHED_TASK_STATES


@pytest.mark.parametrize(
    "path",
    [
        [T.NONE, T.SCHEDULED, T.QUEUED, T.RUNNING, T.SUCCESS],
        [
            T.NONE,
            T.SCHEDULED,
            T.QUEUED,
            T.RUNNING,
            T.UP_FOR_RETRY,
            T.SCHEDULED,
            T.QUEUED,
            T.RUNNING,
            T.FAILED,
        ],
        [
            T.NONE,
            T.SCHEDULED,
            T.QUEUED,
            T.RUNNING,
            T.UP_FOR_RESCHEDULE,
            T.SCHEDULED,
            T.QUEUED,
            T.RUNNING,
            T.SUCCESS,
        ],
        [
            T.NONE,
            T.SCHEDULED,
            T.QUEUED,
            T.RUNNING,
            T.DEFERRED,
            T.SCHEDULED,
            T.QUEUED,
            T.RUNNING,
            T.SUCCESS,
        ],
        [T.NONE, T.SCHEDULED, T.QUEUED, T.RUNNING, T.SKIPPED],
        [T.NONE, T.SKIPPED, T.NONE, T.UPSTREAM_FAILED, T.NONE, T.SCHEDULED],
        [T.NONE, T.SCHEDULED, T.QUEUED, T.SCHEDULED, T.QUEUED, T.RUNNING, T.SUCCESS, T.NONE],
        [T.NONE, T.REMOVED, T.NONE],
        [T.NONE, T.SCHEDULED, T.QUEUED, T.RUNNING, T.FAILED, T.SUCCESS],
    ],
    ids=lambda path: "-".join(str(s) for s in path),
)
def test_realistic_task_lifecycles_are_allowed(path: list[TaskState]) -> None:
    for old, new in itertools.pairwise(path):
        assert check_transition(old, new) is new


# ---------------------------------------------------------------- run table


def test_run_table_is_exactly_the_specified_edges() -> None:
    assert set(RUN_TRANSITIONS) == set(DagRunState)
    actual = {(old, new) for old, targets in RUN_TRANSITIONS.items() for new in targets}
    assert actual == EXPECTED_RUN_EDGES


@pytest.mark.parametrize("pair", ALL_RUN_PAIRS, ids=_pair_id)
def test_every_run_transition_is_allowed_or_refused_per_table(
    pair: tuple[DagRunState, DagRunState],
) -> None:
    old, new = pair
    if pair in EXPECTED_RUN_EDGES:
        assert check_run_transition(old, new) is new
        assert check_run_transition(old.value, new.value) is new
    else:
        with pytest.raises(InvalidTransition, match=f"'{old.value}' to '{new.value}'"):
            check_run_transition(old, new)


@pytest.mark.parametrize("state", sorted(FINISHED_RUN_STATES), ids=str)
def test_finished_runs_can_be_cleared(state: DagRunState) -> None:
    assert check_run_transition(state, R.QUEUED) is R.QUEUED


# ---------------------------------------------------------------- errors


def test_invalid_transition_names_both_states_and_what() -> None:
    what = "task 'extract' of run 'manual__2026-01-01'"
    with pytest.raises(InvalidTransition) as info:
        check_transition("success", "running", what)
    message = str(info.value)
    assert message.startswith(what)
    assert "'success'" in message
    assert "'running'" in message
    assert "allowed from 'success': failed, none" in message
    assert info.value.what == what
    assert isinstance(info.value, ConflictError)


def test_invalid_run_transition_names_the_run() -> None:
    with pytest.raises(InvalidTransition, match="run 'scheduled__x': cannot change state"):
        check_run_transition(R.RUNNING, R.QUEUED, "run 'scheduled__x'")


def test_invalid_transition_survives_pickling() -> None:
    error = InvalidTransition("running", "queued", "task 'a'", ["success"])
    clone = pickle.loads(pickle.dumps(error))
    assert isinstance(clone, InvalidTransition)
    assert str(clone) == str(error)
    assert (clone.current, clone.new, clone.what, clone.allowed) == (
        "running",
        "queued",
        "task 'a'",
        ("success",),
    )


@pytest.mark.parametrize(
    ("current", "new", "bad"),
    [("runing", "success", "runing"), ("running", "succeeded", "succeeded"), ("", "none", "")],
)
def test_unknown_task_state_is_named(current: str, new: str, bad: str) -> None:
    with pytest.raises(ValueError, match=f"unknown task state '{bad}'") as info:
        check_transition(current, new, "task 'a'")
    assert not isinstance(info.value, InvalidTransition)
    assert "expected one of: none, scheduled" in str(info.value)


def test_unknown_run_state_is_named() -> None:
    with pytest.raises(ValueError, match="unknown run state 'paused'"):
        check_run_transition("paused", "running")
    with pytest.raises(ValueError, match="unknown run state 'done'"):
        check_run_transition("running", "done")


def test_task_state_strings_are_not_run_states() -> None:
    with pytest.raises(ValueError, match="unknown run state 'up_for_retry'"):
        check_run_transition("up_for_retry", "running")
