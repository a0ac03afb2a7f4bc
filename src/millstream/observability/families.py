"""Every metric family millstream exports, grouped by the component that records it.

Each group is a Prometheus registry of its own: a process serves the groups of the parts
it runs (``millstream scheduler`` the scheduler's and, its executor being local, the
worker's; ``standalone`` all of them), so no figure is exported twice. Labels are bounded:
DAG, task, state, pool, file, kind; never a run id or a try number.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from millstream.observability.task_series import TaskTrySeries

# A ``_created`` series per counter and histogram doubles what is scraped for nothing a
# dashboard uses (Prometheus infers resets from the values).
disable_created_metrics()  # type: ignore[no-untyped-call]

# Seconds, from a no-op handoff (a few ms) to a long batch task (hours).
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 10800.0, float("inf"))
TICK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                5.0, float("inf"))

SCHEDULER = "scheduler"
WORKER = "worker"
TRIGGERER = "triggerer"
WEBSERVER = "webserver"


@dataclass(frozen=True)
class Groups:
    """The registry of each component's families."""

    scheduler: CollectorRegistry
    worker: CollectorRegistry
    triggerer: CollectorRegistry


GROUPS = Groups(CollectorRegistry(auto_describe=True), CollectorRegistry(auto_describe=True),
                CollectorRegistry(auto_describe=True))
_S, _W, _T = GROUPS.scheduler, GROUPS.worker, GROUPS.triggerer

# -- the scheduler: outcomes of tries and runs as it applies them ------------------------------
# A child per task would cost every new task's first end more than applying it.
TASK_TRIES = TaskTrySeries(
    ("millstream_task_tries_finished", "Task tries that ended, by DAG, task and outcome "
     "(up_for_retry: failed with a retry left)."),
    ("millstream_task_duration_seconds", "How long finished task tries ran."),
    DURATION_BUCKETS)
_S.register(TASK_TRIES)
TASK_QUEUE_LATENCY = Histogram(
    "millstream_task_queue_latency_seconds", "Time a task waited, by stage: "
    "scheduled_to_queued (ready until dispatched), queued_to_running (dispatched until "
    "its try started).", ["stage"], buckets=DURATION_BUCKETS, registry=_S)
TASK_HANDOFF_LATENCY = Histogram(
    "millstream_task_handoff_latency_seconds", "From the end of a task's last upstream "
    "task to its own start.", ["dag"], buckets=DURATION_BUCKETS, registry=_S)
DAG_RUN_DURATION = Histogram(
    "millstream_dag_run_duration_seconds", "How long finished DAG runs took, by outcome.",
    ["dag", "state"], buckets=DURATION_BUCKETS, registry=_S)
DAG_RUNS_CREATED = Counter(
    "millstream_dag_runs_created", "DAG runs created, by type (scheduled, manual, "
    "backfill, asset_triggered).", ["dag", "run_type"], registry=_S)
SCHEDULER_TICKS = Counter(
    "millstream_scheduler_ticks", "Rounds of the scheduler loop.", registry=_S)
SCHEDULER_TICK_DURATION = Histogram(
    "millstream_scheduler_tick_duration_seconds", "How long one round of the scheduler loop "
    "took.", buckets=TICK_BUCKETS, registry=_S)
DAG_FILE_PARSE_DURATION = Gauge(
    "millstream_dag_file_parse_duration_seconds", "How long the latest parse of each DAG "
    "file took.", ["file"], registry=_S)
DAG_FILE_PARSES = Counter(
    "millstream_dag_file_parses", "DAG file parses, by outcome (ok, error).",
    ["outcome"], registry=_S)
ZOMBIES_FOUND = Counter(
    "millstream_zombies_found", "Tries found gone without a result (no heartbeat within "
    "the zombie timeout).", registry=_S)
CALLBACKS_FAILED = Counter(
    "millstream_callbacks_failed", "Callbacks that raised, by kind (on_success_callback, "
    "on_failure_callback, ...).", ["dag", "kind"], registry=_S)
DEADLINE_MISSES = Counter(
    "millstream_deadline_misses", "Deadlines missed: a task's sla, or a DAG's deadline.",
    ["dag", "kind"], registry=_S)

# -- the worker side: slots, and what task code reported ---------------------------------------
EXECUTOR_SLOTS = Gauge(
    "millstream_executor_slots", "The executor's slots, used and free, and tries prefetched.",
    ["state"],
    registry=_W)

# -- the triggerer -------------------------------------------------------------------------------
TRIGGERS_RUNNING = Gauge(
    "millstream_triggers_running", "Triggers the triggerer is running now.", registry=_T)
TRIGGERS_FIRED = Counter(
    "millstream_triggers_fired", "Trigger waits that ended, by outcome (fired, failed, "
    "timed_out).", ["outcome"], registry=_T)

TASK_CODE_HELP = "Reported by task code"
"""How the help of a family that task code created begins."""

DB_FAMILIES = (
    "millstream_pool_slots", "millstream_dag_import_errors", "millstream_heartbeat_age_seconds",
)
"""Families read from the metadata database when the web server is scraped."""


def exported_names() -> set[str]:
    """The name of every family millstream exports of its own (not those task code made
    in this process), as Prometheus shows its samples' names (counters with ``_total``,
    histograms with ``_bucket``, ``_sum``, ``_count``)."""
    names: set[str] = set()
    for registry in (GROUPS.scheduler, GROUPS.worker, GROUPS.triggerer):
        for family in registry.collect():
            if family.documentation.startswith(TASK_CODE_HELP):
                continue
            for suffix in _SUFFIXES[family.type]:
                names.add(family.name + suffix)
    names.update(DB_FAMILIES)
    return names


_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
}
