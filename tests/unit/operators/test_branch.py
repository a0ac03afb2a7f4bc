"""BranchDateTimeOperator, BranchDayOfWeekOperator and LatestOnlyOperator, through dag.test()."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from millstream import DAG
from millstream.exceptions import DagDefinitionError
from millstream.operators.branch import (
    BranchDateTimeOperator,
    BranchDayOfWeekOperator,
    LatestOnlyOperator,
    WeekDay,
    target_times_as_dates,
)
from millstream.operators.empty import EmptyOperator


def _branch_dag(dag_id: str, make_branch) -> dict[str, str]:
    with DAG(dag_id) as the_dag:
        branch = make_branch()
        branch >> [EmptyOperator(task_id="yes"), EmptyOperator(task_id="no")]
    return the_dag.test(logical_date="2026-01-01").task_states  # a Thursday


@pytest.mark.parametrize(("lower", "upper", "expected"), [
    (datetime(2025, 12, 31, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC), "yes"),
    (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC), "no"),
    (None, datetime(2025, 1, 1), "no"),  # naive bounds are UTC
    (datetime(2025, 1, 1), None, "yes"),
    (time(0, 0), time(1, 0), "yes"),  # times of day fall on the compared date
    (time(1, 0), time(2, 0), "no"),
])
def test_date_time_branch_on_the_logical_date(lower, upper, expected):
    states = _branch_dag("dt_branch", lambda: BranchDateTimeOperator(
        task_id="branch", follow_task_ids_if_true="yes", follow_task_ids_if_false=["no"],
        target_lower=lower, target_upper=upper, use_task_logical_date=True,
    ))
    other = "no" if expected == "yes" else "yes"
    assert states[expected] == "success" and states[other] == "skipped"


def test_an_upper_time_before_the_lower_one_falls_on_the_next_day():
    base = datetime(2026, 1, 1, 20, 0, tzinfo=UTC)
    lower, upper = target_times_as_dates(base, time(15, 0), time(0, 0))
    assert lower == datetime(2026, 1, 1, 15, 0, tzinfo=UTC)
    assert upper == datetime(2026, 1, 2, 0, 0, tzinfo=UTC)


def test_date_time_branch_needs_a_bound():
    with DAG("dt_no_bound"), pytest.raises(DagDefinitionError, match="target_lower"):
        BranchDateTimeOperator(task_id="b", follow_task_ids_if_true="a",
                               follow_task_ids_if_false="c")


@pytest.mark.parametrize(("week_day", "expected"), [
    ("Thursday", "yes"), (WeekDay.THURSDAY, "yes"), ({"saturday", WeekDay.SUNDAY}, "no"),
    (["monday", "thursday"], "yes"),
])
def test_weekday_branch_on_the_logical_date(week_day, expected):
    states = _branch_dag("wd_branch", lambda: BranchDayOfWeekOperator(
        task_id="branch", follow_task_ids_if_true="yes", follow_task_ids_if_false="no",
        week_day=week_day, use_task_logical_date=True,
    ))
    assert states[expected] == "success"


def test_weekday_names_are_checked():
    with DAG("wd_bad"), pytest.raises(DagDefinitionError, match="'Funday' is not a day"):
        BranchDayOfWeekOperator(task_id="b", follow_task_ids_if_true="a",
                                follow_task_ids_if_false="c", week_day="Funday")
    assert WeekDay.get_weekday_number("sunday") == 7


def test_latest_only_lets_a_manual_run_through():
    with DAG("latest", schedule="@daily", start_date=datetime(2025, 1, 1)) as the_dag:
        LatestOnlyOperator(task_id="latest_only") >> EmptyOperator(task_id="after")
    states = the_dag.test(logical_date="2025-01-01").task_states
    assert states == {"latest_only": "success", "after": "success"}
