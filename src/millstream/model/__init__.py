"""Pure scheduling logic, free of I/O: states, trigger rules, schedules and retry timing."""

from millstream.model.cron import PRESETS, CronSchedule, parse_schedule
from millstream.model.intervals import (
    UTC,
    DataInterval,
    DeltaSchedule,
    NoSchedule,
    OnceSchedule,
    Schedule,
    ensure_utc,
)
from millstream.model.retry import MAX_RETRY_DELAY, next_retry_at, retries_left, retry_delay
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
from millstream.model.trigger_rules import Decision, TriggerRule, UpstreamCounts, evaluate

__all__ = [
    "FINISHED_RUN_STATES",
    "FINISHED_TASK_STATES",
    "MAX_RETRY_DELAY",
    "PRESETS",
    "RUN_TRANSITIONS",
    "TASK_TRANSITIONS",
    "UNFINISHED_RUN_STATES",
    "UNFINISHED_TASK_STATES",
    "UTC",
    "CronSchedule",
    "DagRunState",
    "DataInterval",
    "Decision",
    "DeltaSchedule",
    "InvalidTransition",
    "NoSchedule",
    "OnceSchedule",
    "Schedule",
    "TaskState",
    "TriggerRule",
    "UpstreamCounts",
    "check_run_transition",
    "check_transition",
    "ensure_utc",
    "evaluate",
    "next_retry_at",
    "parse_schedule",
    "retries_left",
    "retry_delay",
]
