"""Trigger rules: decide from upstream state counts whether a task runs, skips, fails or waits.

:func:`evaluate` is a pure function of a :class:`TriggerRule` and an
:class:`UpstreamCounts`; the scheduler counts the states of a task's direct
upstream task instances and stores the decision through the transition table.

The semantics follow Apache Airflow's documented trigger rules, including its
early decisions (a task does not wait for every upstream when the outcome is
already certain) and skip propagation (a skipped upstream skips an
``all_success`` downstream, so a branch skips everything below the paths it
did not choose until a join whose rule tolerates skips, such as
``none_failed_min_one_success``).

Removed upstreams: an upstream task instance in state ``removed`` belongs to a
task that is no longer in the DAG (or a mapped index that no longer exists).
Like Airflow, millstream counts it as done and otherwise ignores it: it never
satisfies a rule ("one success") and never blocks one ("all success"). The
rules are evaluated over the remaining upstreams, and a task whose upstreams
were all removed behaves like a task with no upstream: it runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from millstream.model.states import FINISHED_TASK_STATES, TaskState

__all__ = ["Decision", "TriggerRule", "UpstreamCounts", "evaluate"]


class TriggerRule(StrEnum):
    """When a task may run, in terms of the states of its direct upstream tasks."""

    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"
    ALL_DONE_SETUP_SUCCESS = "all_done_setup_success"  # the rule of every teardown task

    @classmethod
    def parse(cls, value: str | TriggerRule) -> TriggerRule:
        """Return the rule named by ``value`` (case-insensitive).

        The old Airflow names ``dummy`` (for ``always``) and
        ``none_failed_or_skipped`` (for ``none_failed_min_one_success``) are
        accepted too. Raises ``ValueError`` naming the value and the valid
        rules otherwise.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            name = value.strip().lower()
            name = _ALIASES.get(name, name)
            for rule in cls:
                if rule.value == name:
                    return rule
        expected = ", ".join(rule.value for rule in cls)
        raise ValueError(f"unknown trigger rule {value!r}; expected one of: {expected}")


_ALIASES: dict[str, str] = {
    "dummy": TriggerRule.ALWAYS.value,
    "none_failed_or_skipped": TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS.value,
}


class Decision(StrEnum):
    """What the scheduler does with a task whose trigger rule was evaluated."""

    RUN = "run"  # schedule it
    SKIP = "skip"  # set it to skipped (and so propagate the skip downstream)
    UPSTREAM_FAILED = "upstream_failed"  # set it to upstream_failed
    WAIT = "wait"  # not decided yet: some upstream has still to finish


@dataclass(frozen=True, slots=True)
class UpstreamCounts:
    """How many direct upstream task instances are in each finished state.

    ``total`` counts every upstream task instance, finished or not; the other
    fields count finished ones, so ``total - done`` are still unfinished. The
    ``setup_*`` fields count the instances of upstream *setup* tasks among them
    (``setup_total`` all of them, the others those that succeeded or were skipped).
    """

    total: int = 0
    success: int = 0
    skipped: int = 0
    failed: int = 0
    upstream_failed: int = 0
    removed: int = 0
    setup_total: int = 0
    setup_success: int = 0
    setup_skipped: int = 0

    def __post_init__(self) -> None:
        for name in ("total", "success", "skipped", "failed", "upstream_failed", "removed",
                     "setup_total", "setup_success", "setup_skipped"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"upstream count {name} must be a non-negative int, got {value!r}")
        if self.done > self.total:
            raise ValueError(
                f"upstream counts are inconsistent: {self.done} finished but total is {self.total}"
            )
        if self.setup_success + self.setup_skipped > self.setup_total or (
            self.setup_total > self.total
        ):
            raise ValueError("upstream setup counts are inconsistent with the totals")

    @property
    def done(self) -> int:
        """The number of finished upstream task instances."""
        return self.success + self.skipped + self.failed + self.upstream_failed + self.removed

    @property
    def all_done(self) -> bool:
        """True when every upstream task instance has finished (or there is none)."""
        return self.done >= self.total

    @classmethod
    def from_states(cls, states: Iterable[TaskState | str]) -> UpstreamCounts:
        """Count the states of upstream task instances; unfinished ones count only in total."""
        tally = dict.fromkeys(FINISHED_TASK_STATES, 0)
        total = 0
        for raw in states:
            try:
                state = TaskState(raw)
            except ValueError:
                expected = ", ".join(member.value for member in TaskState)
                raise ValueError(
                    f"unknown task state {raw!r}; expected one of: {expected}"
                ) from None
            total += 1
            if state in tally:
                tally[state] += 1
        return cls(
            total=total,
            success=tally[TaskState.SUCCESS],
            skipped=tally[TaskState.SKIPPED],
            failed=tally[TaskState.FAILED],
            upstream_failed=tally[TaskState.UPSTREAM_FAILED],
            removed=tally[TaskState.REMOVED],
        )


def evaluate(rule: TriggerRule | str, counts: UpstreamCounts) -> Decision:
    """Decide what to do with a task given its trigger rule and its upstream counts.

    ``failed`` below means failed or upstream_failed unless said otherwise;
    "all" ranges over the upstreams that were not removed.

    ============================  ==================================  =========================
    rule                          decides early                       when all upstreams done
    ============================  ==================================  =========================
    all_success                   failed -> upstream_failed;          run
                                  else skipped -> skip
    all_failed                    success or skipped -> skip          run
    all_done                      (none)                              run
    all_skipped                   success or failed -> skip           run
    one_success                   success -> run                      skip if all skipped,
                                                                      else upstream_failed
    one_failed                    failed -> run                       skip
    one_done                      success or failed (not              skip
                                  upstream_failed) -> run
    none_failed                   failed -> upstream_failed           run
    none_failed_min_one_success   failed -> upstream_failed           skip if none succeeded
                                                                      (all skipped), else run
    none_skipped                  skipped -> skip                     run
    always                        run                                 run
    all_done_setup_success        (none)                              skip if every upstream
                                                                      setup was skipped;
                                                                      upstream_failed if none
                                                                      succeeded; else run
    ============================  ==================================  =========================

    A task with no upstream (or only removed ones) runs whatever its rule.
    Until a rule decides, the result is :attr:`Decision.WAIT`.
    """
    rule = TriggerRule.parse(rule)
    relevant = counts.total - counts.removed
    if rule is TriggerRule.ALWAYS or relevant <= 0:
        return Decision.RUN

    success = counts.success
    skipped = counts.skipped
    failures = counts.failed + counts.upstream_failed
    all_done = counts.all_done

    if rule is TriggerRule.ALL_SUCCESS:
        if failures:
            return Decision.UPSTREAM_FAILED
        if skipped:
            return Decision.SKIP
        return Decision.RUN if success == relevant else Decision.WAIT
    if rule is TriggerRule.ALL_FAILED:
        if success or skipped:
            return Decision.SKIP
        return Decision.RUN if failures == relevant else Decision.WAIT
    if rule is TriggerRule.ALL_DONE:
        return Decision.RUN if all_done else Decision.WAIT
    if rule is TriggerRule.ALL_SKIPPED:
        if success or failures:
            return Decision.SKIP
        return Decision.RUN if skipped == relevant else Decision.WAIT
    if rule is TriggerRule.ONE_SUCCESS:
        if success:
            return Decision.RUN
        if not all_done:
            return Decision.WAIT
        return Decision.SKIP if skipped == relevant else Decision.UPSTREAM_FAILED
    if rule is TriggerRule.ONE_FAILED:
        if failures:
            return Decision.RUN
        return Decision.SKIP if all_done else Decision.WAIT
    if rule is TriggerRule.ONE_DONE:
        if success or counts.failed:
            return Decision.RUN
        return Decision.SKIP if all_done else Decision.WAIT
    if rule is TriggerRule.NONE_FAILED:
        if failures:
            return Decision.UPSTREAM_FAILED
        return Decision.RUN if all_done else Decision.WAIT
    if rule is TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS:
        if failures:
            return Decision.UPSTREAM_FAILED
        if not all_done:
            return Decision.WAIT
        return Decision.RUN if success else Decision.SKIP
    if rule is TriggerRule.ALL_DONE_SETUP_SUCCESS:
        if not all_done:
            return Decision.WAIT
        if counts.setup_total and counts.setup_skipped >= counts.setup_total:
            return Decision.SKIP
        if counts.setup_total and not counts.setup_success:
            return Decision.UPSTREAM_FAILED
        return Decision.RUN
    if rule is TriggerRule.NONE_SKIPPED:
        if skipped:
            return Decision.SKIP
        return Decision.RUN if all_done else Decision.WAIT
    raise AssertionError(f"trigger rule {rule.value!r} has no evaluation")  # pragma: no cover
