"""Airflow names with no millstream object of the same shape: thin stand-ins built on millstream.

Each one behaves as Airflow documents it: ``days_ago``, the ``State`` constants, the
``Context`` type and the ``@task`` namespace (naming the decorators it does not support).
``@task_group`` is millstream's own (:mod:`millstream.authoring.group_decorator`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from millstream.model.states import TaskState
from millstream.operators.decorators import task as _millstream_task

DOCS = "docs/migrating-from-airflow.md"

Context = dict
"""A task's context: the dict of ``ds``, ``ti``, ``dag_run`` ... passed to callables."""


def days_ago(
    n: int, hour: int = 0, minute: int = 0, second: int = 0, microsecond: int = 0
) -> datetime:
    """Today at ``hour:minute:second`` UTC, ``n`` days back (Airflow 2's ``days_ago``)."""
    today = datetime.now(UTC).replace(hour=hour, minute=minute, second=second,
                                      microsecond=microsecond)
    return today - timedelta(days=n)


class State:
    """Airflow's ``State`` constants, as millstream's task states.

    A task that has not been scheduled yet is ``State.NONE``, which is the state
    ``"none"`` in millstream (Airflow uses Python's ``None``).
    """

    NONE = TaskState.NONE
    SCHEDULED = TaskState.SCHEDULED
    QUEUED = TaskState.QUEUED
    RUNNING = TaskState.RUNNING
    SUCCESS = TaskState.SUCCESS
    FAILED = TaskState.FAILED
    SKIPPED = TaskState.SKIPPED
    UPSTREAM_FAILED = TaskState.UPSTREAM_FAILED
    UP_FOR_RETRY = TaskState.UP_FOR_RETRY
    UP_FOR_RESCHEDULE = TaskState.UP_FOR_RESCHEDULE
    DEFERRED = TaskState.DEFERRED
    REMOVED = TaskState.REMOVED

    task_states = tuple(TaskState)
    finished = frozenset({SUCCESS, FAILED, SKIPPED, UPSTREAM_FAILED, REMOVED})
    unfinished = frozenset({NONE, SCHEDULED, QUEUED, RUNNING, UP_FOR_RETRY,
                            UP_FOR_RESCHEDULE, DEFERRED})
    failed_states = frozenset({FAILED, UPSTREAM_FAILED})
    success_states = frozenset({SUCCESS, SKIPPED})


class _TaskNamespace:
    """``@task``, ``@task.python``, ``@task.branch`` and ``@task.short_circuit``.

    Any other ``@task.<kind>`` of Airflow (``bash``, ``virtualenv``, ``docker``, ``sensor``
    ...) is an AttributeError naming it, instead of a bare "no attribute".
    """

    python = staticmethod(_millstream_task.python)
    branch = staticmethod(_millstream_task.branch)
    short_circuit = staticmethod(_millstream_task.short_circuit)

    def __call__(self, python_callable: Callable[..., Any] | None = None,
                 **operator_kwargs: Any) -> Any:
        return _millstream_task(python_callable, **operator_kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        # A decorator millstream's own @task has (@task.bash, @task.sensor ...)
        found = getattr(_millstream_task, name, None)
        if found is not None:
            return found
        raise AttributeError(
            f"millstream's Airflow compatibility does not support @task.{name}; supported: "
            "@task, @task.python, @task.branch, @task.short_circuit, @task.bash, "
            "@task.sensor, @task.virtualenv, @task.external_python, @task.branch_virtualenv, "
            f"@task.branch_external_python, @task.run_if, @task.skip_if; see {DOCS}"
        )

    def __repr__(self) -> str:
        return "<airflow task decorator (millstream)>"


task = _TaskNamespace()


__all__ = ["Context", "State", "days_ago", "task"]
