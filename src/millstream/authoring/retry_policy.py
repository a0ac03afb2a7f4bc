"""Retry policies: decide from the exception a try raised whether to retry, and how soon.

``@task(retries=5, retry_policy=ExceptionRetryPolicy(rules=[...]))``: when a try fails,
the policy's first rule that matches the exception decides, as Airflow 3.3's pluggable
retry policies do:

* ``RetryAction.FAIL``: the task fails now, whatever retries it has left;
* ``RetryAction.RETRY``: the task is up for retry after the rule's ``retry_delay`` (the
  task's own delay and backoff when the rule gives none), if it has retries left;
* ``RetryAction.DEFAULT``, or no rule matching: the task's ``retries``, ``retry_delay``
  and backoff apply as without a policy.

A rule names its exception by class or by dotted path (``"requests.exceptions.HTTPError"``,
so the DAG file need not import it), or a list of them; subclasses match too unless
``match_subclasses=False``. Any object with an ``evaluate(exception, try_number,
max_tries, context)`` method returning a :class:`RetryDecision` is a policy.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from millstream.exceptions import DagDefinitionError


class RetryAction(enum.StrEnum):
    """What a retry policy decides for a failed try."""

    RETRY = "retry"
    FAIL = "fail"
    DEFAULT = "default"


@dataclass(frozen=True)
class RetryDecision:
    """A policy's answer: the action, and for RETRY the delay (None: the task's own)."""

    action: RetryAction = RetryAction.DEFAULT
    retry_delay: timedelta | None = None
    reason: str | None = None


def _dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class RetryRule:
    """One rule: which exceptions it matches and what it decides for them."""

    def __init__(
        self,
        exception: type[BaseException] | str | Sequence[type[BaseException] | str],
        action: RetryAction | str = RetryAction.RETRY,
        retry_delay: timedelta | float | None = None,
        reason: str | None = None,
        match_subclasses: bool = True,
    ) -> None:
        items = list(exception) if isinstance(exception, list | tuple) else [exception]
        if not items:
            raise DagDefinitionError("RetryRule: exception must name at least one exception")
        for item in items:
            is_class = isinstance(item, type) and issubclass(item, BaseException)
            if not is_class and not (isinstance(item, str) and "." in item):
                raise DagDefinitionError(
                    f"RetryRule: exception {item!r} must be an exception class or its dotted "
                    "path, like 'requests.exceptions.HTTPError'")
        try:
            self.action = RetryAction(action)
        except ValueError:
            raise DagDefinitionError(
                f"RetryRule: unknown action {action!r}; use RetryAction.RETRY, FAIL or "
                "DEFAULT") from None
        if isinstance(retry_delay, int | float) and not isinstance(retry_delay, bool):
            retry_delay = timedelta(seconds=retry_delay)
        if retry_delay is not None and (not isinstance(retry_delay, timedelta)
                                        or retry_delay < timedelta(0)):
            raise DagDefinitionError(
                f"RetryRule: retry_delay must be a non-negative timedelta, got {retry_delay!r}")
        self.exceptions: tuple[type[BaseException] | str, ...] = tuple(items)
        self.retry_delay: timedelta | None = retry_delay
        self.reason = reason
        self.match_subclasses = match_subclasses

    def matches(self, exc: BaseException) -> bool:
        """Whether this rule is about ``exc``."""
        classes = type(exc).__mro__ if self.match_subclasses else (type(exc),)
        names = {_dotted(c) for c in classes}
        for item in self.exceptions:
            if isinstance(item, str):
                if item in names:
                    return True
            elif item in classes:
                return True
        return False

    def __repr__(self) -> str:
        names = [e if isinstance(e, str) else e.__name__ for e in self.exceptions]
        return f"RetryRule({names}, action={self.action.name})"


class ExceptionRetryPolicy:
    """Rules tried in order: the first that matches the exception decides."""

    def __init__(self, rules: Sequence[RetryRule]) -> None:
        rules = list(rules)
        for rule in rules:
            if not isinstance(rule, RetryRule):
                raise DagDefinitionError(
                    f"ExceptionRetryPolicy: rules must be RetryRule objects, got {rule!r}")
        self.rules = rules

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int,
                 context: Any = None) -> RetryDecision:
        """The decision for a try that raised ``exception``."""
        for rule in self.rules:
            if rule.matches(exception):
                return RetryDecision(rule.action, rule.retry_delay, rule.reason)
        return RetryDecision()

    def __repr__(self) -> str:
        return f"ExceptionRetryPolicy({self.rules!r})"


def check_retry_policy(policy: object, where: str) -> Any:
    """``policy`` if it can decide retries (has ``evaluate``), else DagDefinitionError."""
    if policy is not None and not callable(getattr(policy, "evaluate", None)):
        raise DagDefinitionError(
            f"{where}: retry_policy must have an evaluate(exception, try_number, max_tries, "
            f"context) method, like ExceptionRetryPolicy; got {policy!r}")
    return policy


__all__ = ["ExceptionRetryPolicy", "RetryAction", "RetryDecision", "RetryRule",
           "check_retry_policy"]
