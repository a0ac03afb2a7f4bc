"""Tests of trigger rule evaluation over upstream state counts."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from millstream.model.states import FINISHED_TASK_STATES, TaskState
from millstream.model.trigger_rules import Decision, TriggerRule, UpstreamCounts, evaluate

TR = TriggerRule
RUN, SKIP, UPF, WAIT = Decision.RUN, Decision.SKIP, Decision.UPSTREAM_FAILED, Decision.WAIT

RULE_ORDER = [
    TR.ALL_SUCCESS,
    TR.ALL_FAILED,
    TR.ALL_DONE,
    TR.ALL_SKIPPED,
    TR.ONE_SUCCESS,
    TR.ONE_FAILED,
    TR.ONE_DONE,
    TR.NONE_FAILED,
    TR.NONE_FAILED_MIN_ONE_SUCCESS,
    TR.NONE_SKIPPED,
    TR.ALWAYS,
]
# With no upstream setup task, a teardown's rule decides exactly as all_done.
SAME_AS = {TR.ALL_DONE_SETUP_SUCCESS: TR.ALL_DONE}


def counts(
    total: int, s: int = 0, sk: int = 0, f: int = 0, uf: int = 0, rm: int = 0
) -> UpstreamCounts:
    return UpstreamCounts(
        total=total, success=s, skipped=sk, failed=f, upstream_failed=uf, removed=rm
    )


# scenario -> expected decision for each rule, in RULE_ORDER:
#   all_success all_failed all_done all_skipped one_success one_failed one_done
#   none_failed none_failed_min_one_success none_skipped always
EXPECTATIONS: dict[str, tuple[UpstreamCounts, tuple[Decision, ...]]] = {
    "no upstream": (counts(0), (RUN,) * 11),
    "1 pending": (counts(1), (WAIT,) * 10 + (RUN,)),
    "3 pending": (counts(3), (WAIT,) * 10 + (RUN,)),
    "1 of 1 success": (
        counts(1, s=1),
        (RUN, SKIP, RUN, SKIP, RUN, SKIP, RUN, RUN, RUN, RUN, RUN),
    ),
    "1 of 1 skipped": (
        counts(1, sk=1),
        (SKIP, SKIP, RUN, RUN, SKIP, SKIP, SKIP, RUN, SKIP, SKIP, RUN),
    ),
    "1 of 1 failed": (
        counts(1, f=1),
        (UPF, RUN, RUN, SKIP, UPF, RUN, RUN, UPF, UPF, RUN, RUN),
    ),
    "1 of 1 upstream_failed": (
        counts(1, uf=1),
        (UPF, RUN, RUN, SKIP, UPF, RUN, SKIP, UPF, UPF, RUN, RUN),
    ),
    "1 success, 2 pending": (
        counts(3, s=1),
        (WAIT, SKIP, WAIT, SKIP, RUN, WAIT, RUN, WAIT, WAIT, WAIT, RUN),
    ),
    "1 failed, 2 pending": (
        counts(3, f=1),
        (UPF, WAIT, WAIT, SKIP, WAIT, RUN, RUN, UPF, UPF, WAIT, RUN),
    ),
    "1 upstream_failed, 2 pending": (
        counts(3, uf=1),
        (UPF, WAIT, WAIT, SKIP, WAIT, RUN, WAIT, UPF, UPF, WAIT, RUN),
    ),
    "1 skipped, 2 pending": (
        counts(3, sk=1),
        (SKIP, SKIP, WAIT, WAIT, WAIT, WAIT, WAIT, WAIT, WAIT, SKIP, RUN),
    ),
    "all 3 success": (
        counts(3, s=3),
        (RUN, SKIP, RUN, SKIP, RUN, SKIP, RUN, RUN, RUN, RUN, RUN),
    ),
    "all 3 failed": (
        counts(3, f=3),
        (UPF, RUN, RUN, SKIP, UPF, RUN, RUN, UPF, UPF, RUN, RUN),
    ),
    "all 3 upstream_failed": (
        counts(3, uf=3),
        (UPF, RUN, RUN, SKIP, UPF, RUN, SKIP, UPF, UPF, RUN, RUN),
    ),
    "1 failed, 2 upstream_failed": (
        counts(3, f=1, uf=2),
        (UPF, RUN, RUN, SKIP, UPF, RUN, RUN, UPF, UPF, RUN, RUN),
    ),
    "all 3 skipped": (
        counts(3, sk=3),
        (SKIP, SKIP, RUN, RUN, SKIP, SKIP, SKIP, RUN, SKIP, SKIP, RUN),
    ),
    "2 success, 1 skipped (a branch)": (
        counts(3, s=2, sk=1),
        (SKIP, SKIP, RUN, SKIP, RUN, SKIP, RUN, RUN, RUN, SKIP, RUN),
    ),
    "2 success, 1 failed": (
        counts(3, s=2, f=1),
        (UPF, SKIP, RUN, SKIP, RUN, RUN, RUN, UPF, UPF, RUN, RUN),
    ),
    "2 skipped, 1 failed": (
        counts(3, sk=2, f=1),
        (UPF, SKIP, RUN, SKIP, UPF, RUN, RUN, UPF, UPF, SKIP, RUN),
    ),
    "2 skipped, 1 upstream_failed": (
        counts(3, sk=2, uf=1),
        (UPF, SKIP, RUN, SKIP, UPF, RUN, SKIP, UPF, UPF, SKIP, RUN),
    ),
    "1 success, 1 skipped, 1 failed": (
        counts(3, s=1, sk=1, f=1),
        (UPF, SKIP, RUN, SKIP, RUN, RUN, RUN, UPF, UPF, SKIP, RUN),
    ),
    "1 success, 1 skipped, 1 pending": (
        counts(3, s=1, sk=1),
        (SKIP, SKIP, WAIT, SKIP, RUN, WAIT, RUN, WAIT, WAIT, SKIP, RUN),
    ),
    "1 success, 1 failed, 1 pending": (
        counts(3, s=1, f=1),
        (UPF, SKIP, WAIT, SKIP, RUN, RUN, RUN, UPF, UPF, WAIT, RUN),
    ),
    "1 skipped, 1 failed, 1 pending": (
        counts(3, sk=1, f=1),
        (UPF, SKIP, WAIT, SKIP, WAIT, RUN, RUN, UPF, UPF, SKIP, RUN),
    ),
    "1 skipped, 1 upstream_failed, 1 pending": (
        counts(3, sk=1, uf=1),
        (UPF, SKIP, WAIT, SKIP, WAIT, RUN, WAIT, UPF, UPF, SKIP, RUN),
    ),
    "2 success, 1 pending": (
        counts(3, s=2),
        (WAIT, SKIP, WAIT, SKIP, RUN, WAIT, RUN, WAIT, WAIT, WAIT, RUN),
    ),
    "2 failed, 1 pending": (
        counts(3, f=2),
        (UPF, WAIT, WAIT, SKIP, WAIT, RUN, RUN, UPF, UPF, WAIT, RUN),
    ),
    # removed upstreams are done and otherwise ignored
    "2 success, 1 removed": (
        counts(3, s=2, rm=1),
        (RUN, SKIP, RUN, SKIP, RUN, SKIP, RUN, RUN, RUN, RUN, RUN),
    ),
    "2 skipped, 1 removed": (
        counts(3, sk=2, rm=1),
        (SKIP, SKIP, RUN, RUN, SKIP, SKIP, SKIP, RUN, SKIP, SKIP, RUN),
    ),
    "2 failed, 1 removed": (
        counts(3, f=2, rm=1),
        (UPF, RUN, RUN, SKIP, UPF, RUN, RUN, UPF, UPF, RUN, RUN),
    ),
    "1 success, 1 removed, 1 pending": (
        counts(3, s=1, rm=1),
        (WAIT, SKIP, WAIT, SKIP, RUN, WAIT, RUN, WAIT, WAIT, WAIT, RUN),
    ),
    "all 3 removed": (counts(3, rm=3), (RUN,) * 11),
}


@pytest.mark.parametrize(
    ("scenario", "rule"),
    [(scenario, rule) for scenario in EXPECTATIONS for rule in TriggerRule],
    ids=lambda value: str(value),
)
def test_decision_table(scenario: str, rule: TriggerRule) -> None:
    upstream, expected = EXPECTATIONS[scenario]
    assert evaluate(rule, upstream) is expected[RULE_ORDER.index(SAME_AS.get(rule, rule))]


def test_table_rows_are_complete() -> None:
    assert list(TriggerRule) == [*RULE_ORDER, *SAME_AS]
    for upstream, expected in EXPECTATIONS.values():
        assert len(expected) == len(RULE_ORDER), upstream


@pytest.mark.parametrize("rule", list(TriggerRule), ids=str)
def test_rule_may_be_given_as_a_string(rule: TriggerRule) -> None:
    upstream = counts(2, s=1, f=1)
    assert evaluate(rule.value, upstream) is evaluate(rule, upstream)


def test_evaluate_rejects_unknown_rule() -> None:
    with pytest.raises(ValueError, match="unknown trigger rule 'all_sucess'"):
        evaluate("all_sucess", counts(1))


# ---------------------------------------------------------------- skip propagation


def test_branch_skips_propagate_down_a_chain_until_a_tolerant_join() -> None:
    # branch -> [a1 -> a2, b1 -> b2] -> join; the branch chose a1, so b1 was skipped.
    # b2 (all_success) sees b1 skipped and is skipped in turn; the join sees a2
    # succeed and b2 skipped: all_success would skip it, the tolerant rules run it.
    b2 = evaluate(TR.ALL_SUCCESS, UpstreamCounts.from_states(["skipped"]))
    assert b2 is SKIP
    join = UpstreamCounts.from_states(["success", "skipped"])
    assert evaluate(TR.NONE_FAILED_MIN_ONE_SUCCESS, join) is RUN
    assert evaluate(TR.NONE_FAILED, join) is RUN
    assert evaluate(TR.ALL_SUCCESS, join) is SKIP


def test_failure_propagates_as_upstream_failed() -> None:
    assert evaluate(TR.ALL_SUCCESS, UpstreamCounts.from_states(["failed"])) is UPF
    assert evaluate(TR.ALL_SUCCESS, UpstreamCounts.from_states(["upstream_failed"])) is UPF


def test_failure_wins_over_skip_for_all_success() -> None:
    assert evaluate(TR.ALL_SUCCESS, counts(5, sk=1, f=1)) is UPF


# ---------------------------------------------------------------- TriggerRule


def test_trigger_rule_values() -> None:
    assert [rule.value for rule in TriggerRule] == [
        "all_success",
        "all_failed",
        "all_done",
        "all_skipped",
        "one_success",
        "one_failed",
        "one_done",
        "none_failed",
        "none_failed_min_one_success",
        "none_skipped",
        "always",
        "all_done_setup_success",
    ]


@pytest.mark.parametrize("rule", list(TriggerRule), ids=str)
def test_parse_round_trips(rule: TriggerRule) -> None:
    assert str(rule) == rule.value
    assert f"{rule}" == rule.value
    assert TriggerRule.parse(rule) is rule
    assert TriggerRule.parse(rule.value) is rule
    assert TriggerRule.parse(rule.value.upper()) is rule
    assert TriggerRule.parse(f" {rule.value} ") is rule


def test_parse_accepts_old_airflow_names() -> None:
    assert TriggerRule.parse("dummy") is TR.ALWAYS
    assert TriggerRule.parse("none_failed_or_skipped") is TR.NONE_FAILED_MIN_ONE_SUCCESS


@pytest.mark.parametrize("value", ["x", "", "all-success", "success", None, 3])
def test_parse_rejects_unknown_values(value: object) -> None:
    with pytest.raises(ValueError) as info:
        TriggerRule.parse(value)  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith(f"unknown trigger rule {value!r}; expected one of: ")
    assert "all_success, all_failed" in message
    assert message.endswith("none_skipped, always, all_done_setup_success")


def test_decision_values() -> None:
    assert [str(d) for d in Decision] == ["run", "skip", "upstream_failed", "wait"]


# ---------------------------------------------------------------- UpstreamCounts


def test_counts_default_to_zero() -> None:
    empty = UpstreamCounts()
    assert (empty.total, empty.done, empty.all_done) == (0, 0, True)


def test_counts_done_and_all_done() -> None:
    upstream = counts(6, s=1, sk=1, f=1, uf=1, rm=1)
    assert upstream.done == 5
    assert not upstream.all_done
    assert replace(upstream, total=5).all_done


def test_counts_are_frozen() -> None:
    with pytest.raises(AttributeError):
        counts(1).total = 2  # type: ignore[misc]


def test_from_states_counts_each_finished_state_and_totals_everything() -> None:
    states = [
        TaskState.SUCCESS,
        "success",
        "skipped",
        "failed",
        "upstream_failed",
        "removed",
        "running",
        "none",
        TaskState.UP_FOR_RETRY,
        "queued",
        "scheduled",
        "deferred",
        "up_for_reschedule",
    ]
    assert UpstreamCounts.from_states(states) == counts(13, s=2, sk=1, f=1, uf=1, rm=1)


def test_from_states_of_nothing() -> None:
    assert UpstreamCounts.from_states([]) == UpstreamCounts()


def test_from_states_accepts_a_generator() -> None:
    assert UpstreamCounts.from_states(s for s in ["success", "running"]) == counts(2, s=1)


def test_from_states_rejects_unknown_state() -> None:
    with pytest.raises(ValueError, match="unknown task state 'succeeded'"):
        UpstreamCounts.from_states(["success", "succeeded"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"total": -1},
        {"total": 1, "success": -1},
        {"total": 1, "success": 2},
        {"total": 2, "success": 1, "failed": 1, "removed": 1},
        {"total": 1.0},
        {"total": True},
    ],
)
def test_counts_reject_impossible_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="upstream count"):
        UpstreamCounts(**kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- properties

FINISHED = [
    TaskState.SUCCESS,
    TaskState.SKIPPED,
    TaskState.FAILED,
    TaskState.UPSTREAM_FAILED,
    TaskState.REMOVED,
]
assert set(FINISHED) == FINISHED_TASK_STATES


@st.composite
def upstream_counts(draw: st.DrawFn, max_total: int = 8) -> UpstreamCounts:
    """Any consistent counts: a few upstreams, each finished in some state or pending."""
    states = draw(st.lists(st.sampled_from([*FINISHED, TaskState.RUNNING]), max_size=max_total))
    return UpstreamCounts.from_states(states)


rules = st.sampled_from(list(TriggerRule))


def _finish_one(upstream: UpstreamCounts, state: TaskState) -> UpstreamCounts:
    field = {
        TaskState.SUCCESS: "success",
        TaskState.SKIPPED: "skipped",
        TaskState.FAILED: "failed",
        TaskState.UPSTREAM_FAILED: "upstream_failed",
        TaskState.REMOVED: "removed",
    }[state]
    return replace(upstream, **{field: getattr(upstream, field) + 1})


def _runs_when_all_done(rule: TriggerRule, present: set[TaskState]) -> bool:
    """The documented meaning of each rule, over the states of the (non-removed) upstreams."""
    failed = {TaskState.FAILED, TaskState.UPSTREAM_FAILED}
    if not present:
        return True
    return {
        TR.ALL_SUCCESS: present == {TaskState.SUCCESS},
        TR.ALL_FAILED: present <= failed,
        TR.ALL_DONE: True,
        TR.ALL_SKIPPED: present == {TaskState.SKIPPED},
        TR.ONE_SUCCESS: TaskState.SUCCESS in present,
        TR.ONE_FAILED: bool(present & failed),
        TR.ONE_DONE: bool(present & {TaskState.SUCCESS, TaskState.FAILED}),
        TR.NONE_FAILED: not present & failed,
        TR.NONE_FAILED_MIN_ONE_SUCCESS: not present & failed and TaskState.SUCCESS in present,
        TR.NONE_SKIPPED: TaskState.SKIPPED not in present,
        TR.ALWAYS: True,
        TR.ALL_DONE_SETUP_SUCCESS: True,  # these counts have no setup upstream
    }[rule]


@settings(max_examples=300, deadline=None)
@given(rules, upstream_counts())
def test_wait_only_while_some_upstream_is_unfinished(
    rule: TriggerRule, upstream: UpstreamCounts
) -> None:
    if upstream.all_done:
        assert evaluate(rule, upstream) is not WAIT


@settings(max_examples=300, deadline=None)
@given(rules, upstream_counts())
def test_all_done_decision_matches_the_documented_meaning(
    rule: TriggerRule, upstream: UpstreamCounts
) -> None:
    upstream = replace(upstream, total=upstream.done)  # finish: drop the pending ones
    present = {
        state
        for state, n in [
            (TaskState.SUCCESS, upstream.success),
            (TaskState.SKIPPED, upstream.skipped),
            (TaskState.FAILED, upstream.failed),
            (TaskState.UPSTREAM_FAILED, upstream.upstream_failed),
        ]
        if n
    }
    assert (evaluate(rule, upstream) is RUN) == _runs_when_all_done(rule, present)


@settings(max_examples=300, deadline=None)
@given(rules, upstream_counts(), st.sampled_from(FINISHED))
def test_decisions_are_monotonic_as_upstreams_finish(
    rule: TriggerRule, upstream: UpstreamCounts, finished_as: TaskState
) -> None:
    if upstream.all_done:
        upstream = replace(upstream, total=upstream.total + 1)
    before = evaluate(rule, upstream)
    after = evaluate(rule, _finish_one(upstream, finished_as))
    if before is not WAIT:
        assert after is not WAIT
    if before in (RUN, UPF):
        assert after is before


@settings(max_examples=200, deadline=None)
@given(rules, upstream_counts(), st.integers(min_value=1, max_value=3))
def test_removed_upstreams_do_not_change_the_decision(
    rule: TriggerRule, upstream: UpstreamCounts, extra: int
) -> None:
    more = replace(upstream, total=upstream.total + extra, removed=upstream.removed + extra)
    assert evaluate(rule, more) is evaluate(rule, upstream)


@settings(max_examples=100, deadline=None)
@given(rules)
def test_no_upstream_always_runs(rule: TriggerRule) -> None:
    assert evaluate(rule, UpstreamCounts()) is RUN


@settings(max_examples=200, deadline=None)
@given(upstream_counts())
def test_always_runs(upstream: UpstreamCounts) -> None:
    assert evaluate(TR.ALWAYS, upstream) is RUN


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list(TaskState)), max_size=10), st.randoms())
def test_counts_do_not_depend_on_order(states: list[TaskState], rnd: object) -> None:
    shuffled = list(states)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert UpstreamCounts.from_states(shuffled) == UpstreamCounts.from_states(states)
    assert UpstreamCounts.from_states(states).total == len(states)


# ---------------------------------------------------------------- teardown rule


def setups(total: int, s: int = 0, sk: int = 0, f: int = 0, st: int = 0, ss: int = 0,
           ssk: int = 0) -> UpstreamCounts:
    return UpstreamCounts(total=total, success=s, skipped=sk, failed=f,
                          setup_total=st, setup_success=ss, setup_skipped=ssk)


@pytest.mark.parametrize(("upstream", "expected"), [
    (setups(2, s=1, st=1, ss=1), WAIT),  # the work task has not finished
    (setups(2, s=1, f=1, st=1, ss=1), RUN),  # work failed, setup succeeded: tear down
    (setups(2, s=2, st=1, ss=1), RUN),
    (setups(2, sk=2, st=1, ssk=1), SKIP),  # setup skipped: nothing to tear down
    (setups(2, f=1, sk=1, st=1), UPF),  # setup failed
    (setups(3, s=1, f=2, st=2, ss=1), RUN),  # one of two setups succeeded
    (setups(3, sk=1, f=2, st=2, ssk=1), UPF),  # one skipped, one failed: none succeeded
    (setups(3, sk=3, st=2, ssk=2), SKIP),
    (setups(2, s=1, f=1), RUN),  # no setup upstream: all_done
])
def test_teardown_rule(upstream: UpstreamCounts, expected: Decision) -> None:
    assert evaluate(TR.ALL_DONE_SETUP_SUCCESS, upstream) is expected


@pytest.mark.parametrize("bad", [
    {"total": 1, "setup_total": 2},
    {"total": 2, "setup_total": 1, "setup_success": 1, "setup_skipped": 1},
    {"total": 1, "setup_total": -1},
])
def test_setup_counts_must_be_consistent(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="setup"):
        UpstreamCounts(**bad)
