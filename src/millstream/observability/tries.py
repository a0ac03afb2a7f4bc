"""What a try's (or a DAG callback's) process sets up for observability: its metrics context
and its trace."""

from __future__ import annotations

from typing import Any

from millstream.observability import tracing, user_metrics


def start_try(workload: Any) -> Any:
    """From now on task code's metrics carry this try's labels and its spans nest under
    the try's span; returns what :func:`end_try` needs."""
    key = workload.key
    user_metrics.start_try({"dag": key.dag_id, "task": key.task_id,
                            "run_type": str(workload.run.run_type)})
    return tracing.enter_try(key, workload.try_number)


def end_try(state: Any) -> tuple[str, ...]:
    """Undo :func:`start_try`; returns the metrics task code reported, for the outcome."""
    tracing.leave_try(state)
    return user_metrics.end_try()


def start_callback(dag_id: str, run_type: str = "") -> None:
    """In a DAG callback's process: keep what it counts (callbacks that raised, task code's
    metrics) to report with its end, as a try does."""
    user_metrics.start_try({"dag": dag_id, "task": "", "run_type": run_type})


def end_callback() -> tuple[str, ...]:
    """What the callback's process counted since :func:`start_callback` (JSON texts, as
    :func:`end_try` returns them)."""
    return user_metrics.end_try()
