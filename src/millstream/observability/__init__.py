"""Observability: Prometheus metrics, StatsD, OpenTelemetry traces and JSON logs.

The rest of millstream calls the one-line functions re-exported here where something
happens; :mod:`millstream.observability.emit` says what each records. Task code uses
:mod:`millstream.metrics`. See docs/observability.md.
"""

from __future__ import annotations

from millstream.observability.emit import (
    callback_failed,
    callback_process_ended,
    configure,
    database_figures,
    deadline_missed,
    executor_slots,
    file_parsed,
    observed_callbacks,
    run_created,
    run_finished,
    task_event,
    task_queued,
    task_scheduled,
    timed_tick,
    trigger_ended,
    triggers_running,
    try_ended,
    zombie_found,
)
from millstream.observability.exposition import serve_scheduler, serve_triggerer, serve_worker
from millstream.observability.logs import (
    label_task_log,
    setup_logging,
    try_formatter,
    try_labels,
    try_log_line,
)
from millstream.observability.tries import end_callback, end_try, start_callback, start_try
from millstream.observability.user_metrics import spill_to, take_spilled

__all__ = [
    "callback_failed", "callback_process_ended", "configure", "database_figures",
    "deadline_missed", "end_callback", "end_try", "executor_slots", "file_parsed",
    "label_task_log", "observed_callbacks", "run_created", "run_finished",
    "serve_scheduler", "serve_triggerer", "serve_worker", "setup_logging", "spill_to",
    "start_callback", "start_try", "take_spilled", "task_event", "task_queued",
    "task_scheduled", "timed_tick", "trigger_ended", "triggers_running", "try_ended",
    "try_formatter", "try_labels", "try_log_line", "zombie_found",
]
