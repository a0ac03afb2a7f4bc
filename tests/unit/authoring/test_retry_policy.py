"""Retry policies: which rule matches an exception, and bad rules refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from millstream.authoring.retry_policy import (
    ExceptionRetryPolicy,
    RetryAction,
    RetryDecision,
    RetryRule,
)
from millstream.exceptions import DagDefinitionError
from millstream.operators.python import PythonOperator


class QuotaError(ConnectionError):
    pass


def test_the_first_matching_rule_decides() -> None:
    policy = ExceptionRetryPolicy(rules=[
        RetryRule(exception=ValueError, action=RetryAction.FAIL, reason="bad input"),
        RetryRule(exception=ConnectionError, retry_delay=timedelta(seconds=30)),
        RetryRule(exception=Exception, action=RetryAction.RETRY, retry_delay=60),
    ])
    assert policy.evaluate(ValueError("x"), 1, 3) == RetryDecision(
        RetryAction.FAIL, None, "bad input")
    assert policy.evaluate(QuotaError(), 1, 3) == RetryDecision(  # a subclass matches
        RetryAction.RETRY, timedelta(seconds=30), None)
    assert policy.evaluate(KeyError("k"), 1, 3).retry_delay == timedelta(seconds=60)
    assert policy.evaluate(KeyboardInterrupt(), 1, 3) == RetryDecision()  # no rule: default


def test_a_rule_names_its_exception_by_dotted_path_or_a_list() -> None:
    by_path = RetryRule(exception=f"{__name__}.QuotaError", action=RetryAction.FAIL)
    assert by_path.matches(QuotaError())
    assert not by_path.matches(ConnectionError())
    builtin = RetryRule(exception="builtins.ConnectionError")
    assert builtin.matches(QuotaError())  # through the class's ancestors
    several = RetryRule(exception=[KeyError, "builtins.ValueError"])
    assert several.matches(KeyError()) and several.matches(ValueError())
    assert not several.matches(TypeError())


def test_match_subclasses_false_matches_the_class_only() -> None:
    exact = RetryRule(exception=ConnectionError, match_subclasses=False)
    assert exact.matches(ConnectionError())
    assert not exact.matches(QuotaError())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"exception": []}, "at least one exception"),
    ({"exception": "ValueError"}, "exception class or its dotted path"),
    ({"exception": 3}, "exception class or its dotted path"),
    ({"exception": ValueError, "action": "later"}, "unknown action 'later'"),
    ({"exception": ValueError, "retry_delay": timedelta(seconds=-1)}, "non-negative"),
])
def test_bad_rules_are_refused_saying_why(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(DagDefinitionError, match=message):
        RetryRule(**kwargs)  # type: ignore[arg-type]


def test_a_task_takes_only_a_policy_that_can_evaluate() -> None:
    with pytest.raises(DagDefinitionError, match="retry_policy must have an evaluate"):
        PythonOperator(task_id="t", python_callable=print, retry_policy="retry")
    with pytest.raises(DagDefinitionError, match="rules must be RetryRule objects"):
        ExceptionRetryPolicy(rules=[ValueError])  # type: ignore[list-item]
