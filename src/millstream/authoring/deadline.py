"""Deadline alerts of a DAG: "tell me when a run is not done by <reference> + <interval>".

As Airflow 3's deadline alerts::

    DAG(..., deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(hours=2),
        callback=SlackWebhookNotifier(slack_webhook_conn_id="alerts", text="{{ reason }}"),
    ))

The scheduler computes each run's deadline from the reference (the run's logical date,
when it was queued, or when it started running) plus the interval. A run that has not
ended by then misses it: the miss is recorded (the UI lists it and badges the run),
counted in ``millstream_deadline_misses_total``, and the callback (a notifier, or any
callable taking the context) is called once, in a process that imports the DAG file.
A run that ends in time, successfully or not, never misses it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from millstream.exceptions import DagDefinitionError

REFERENCES = ("dagrun_logical_date", "dagrun_queued_at", "dagrun_start_date")


class DeadlineReference:
    """What a deadline counts from."""

    DAGRUN_LOGICAL_DATE = "dagrun_logical_date"
    """The run's logical date (for a scheduled run, the start of its data interval)."""
    DAGRUN_QUEUED_AT = "dagrun_queued_at"
    """When the run was created (queued)."""
    DAGRUN_START_DATE = "dagrun_start_date"
    """When the run started running (a run still queued has no deadline yet)."""


@dataclass(frozen=True)
class DeadlineAlert:
    """A deadline for every run of a DAG, and what to call when a run misses it."""

    reference: str
    interval: timedelta
    callback: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None

    def callbacks(self) -> list[Callable[..., Any]]:
        """The callback as a list (none, one, or several)."""
        if self.callback is None:
            return []
        if isinstance(self.callback, list | tuple):
            return list(self.callback)
        return [self.callback]  # type: ignore[list-item]


def deadline_alerts(dag_id: str, value: DeadlineAlert | Iterable[DeadlineAlert] | None
                    ) -> tuple[DeadlineAlert, ...]:
    """A DAG's ``deadline`` argument as a checked tuple of alerts."""
    if value is None:
        return ()
    alerts = (value,) if isinstance(value, DeadlineAlert) else tuple(value)
    for alert in alerts:
        if not isinstance(alert, DeadlineAlert):
            raise DagDefinitionError(f"DAG {dag_id!r}: deadline takes DeadlineAlert objects, "
                                     f"not {type(alert).__name__}")
        if alert.reference not in REFERENCES:
            raise DagDefinitionError(f"DAG {dag_id!r}: unknown deadline reference "
                                     f"{alert.reference!r}; use DeadlineReference."
                                     "DAGRUN_LOGICAL_DATE, DAGRUN_QUEUED_AT or DAGRUN_START_DATE")
        if not isinstance(alert.interval, timedelta):
            raise DagDefinitionError(f"DAG {dag_id!r}: a deadline's interval is a timedelta, "
                                     f"not {type(alert.interval).__name__}")
        if not all(callable(c) for c in alert.callbacks()):
            raise DagDefinitionError(f"DAG {dag_id!r}: a deadline's callback must be callable "
                                     "(a notifier or a function taking the context)")
    return alerts
