"""Recording millstream's figures: one call per event, to Prometheus, StatsD and traces.

The scheduler, the executors, the runtime and the triggerer each call one function of this
module where something happens (a try ended, a run finished, a tick took so long); the
function updates the Prometheus family of :mod:`millstream.observability.families`, sends
the same figure to StatsD when ``[metrics] statsd_host`` is set, and ends the matching span
when tracing is on. With ``[metrics] enabled = false`` every call returns at once.

Callers pass their own objects (events, records, DAG views); this module reads only
their attributes, so it sits below the layers that call it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from millstream.observability import families as f
from millstream.observability.statsd import StatsdClient

if TYPE_CHECKING:
    from millstream.config import Settings

log = logging.getLogger("millstream.observability")

T = TypeVar("T")
# States a try ends in (a deferral or a sensor's reschedule suspends it instead).
TRY_ENDS = frozenset({"success", "failed", "skipped", "up_for_retry"})
_MEMORY = 100_000  # at most this many tasks' timestamps are kept for latencies


@dataclass
class _Config:
    enabled: bool = True
    statsd: StatsdClient | None = None
    hostname: str = field(default_factory=socket.gethostname)
    tracing: Any = None  # a millstream.observability.tracing.Tracing when spans are on
    otlp: tuple[str, str] | None = None  # (endpoint, service name) the tracing came from


CONFIG = _Config()
# Moments of the latest transitions, for the latencies between them (this process only).
_scheduled_at: dict[tuple[str, str, str, int], datetime] = {}
# Keyed by try too: a try's start may be applied after the next try was queued.
_queued_at: dict[tuple[tuple[str, str, str, int], int], datetime] = {}
_ended_at: dict[tuple[str, str], dict[str, datetime]] = {}  # (dag, run): task -> its end


def configure(settings: Settings) -> None:
    """Record (or not) and send figures as ``settings`` say, in this process and those
    it forks later (tries inherit it)."""
    metrics = settings.metrics
    CONFIG.enabled = metrics.enabled
    if CONFIG.statsd is not None:
        CONFIG.statsd.close()
        CONFIG.statsd = None
    if metrics.enabled and metrics.statsd_host:
        CONFIG.statsd = StatsdClient(metrics.statsd_host, metrics.statsd_port,
                                     metrics.statsd_prefix, metrics.statsd_datadog_tags,
                                     {"hostname": CONFIG.hostname})
    from millstream.observability.tracing import tracing_from_settings

    CONFIG.tracing = tracing_from_settings(settings)
    CONFIG.otlp = None
    if CONFIG.tracing is not None and settings.tracing.otlp_endpoint:
        CONFIG.otlp = (settings.tracing.otlp_endpoint, settings.tracing.service_name)


def process_state() -> dict[str, Any]:
    """What :func:`configure` set, as plain data for a process started afresh (the local
    executor's fork server is an ``exec``, not a fork: it inherits nothing)."""
    from millstream.observability.logs import log_format

    statsd = CONFIG.statsd
    return {
        "enabled": CONFIG.enabled,
        "statsd": None if statsd is None else {
            "host": statsd.host, "port": statsd.port, "prefix": statsd.prefix,
            "datadog_tags": statsd.datadog_tags, "constant_tags": statsd.constant_tags},
        "log_format": log_format(),
        "otlp": CONFIG.otlp,
    }


def restore_state(state: dict[str, Any] | None) -> None:
    """In a process started afresh: record and send as the process that started it does."""
    if not state:
        return
    from millstream.observability.logs import set_log_format

    CONFIG.enabled = bool(state.get("enabled", True))
    statsd = state.get("statsd")
    if statsd:
        CONFIG.statsd = StatsdClient(statsd["host"], statsd["port"], statsd["prefix"],
                                     statsd["datadog_tags"], statsd["constant_tags"])
    set_log_format(state.get("log_format") or "text")
    otlp = state.get("otlp")
    if otlp:
        from millstream.observability.tracing import otlp_tracing

        CONFIG.tracing = otlp_tracing(otlp[0], otlp[1])
        CONFIG.otlp = (otlp[0], otlp[1])


def reset() -> None:
    """Back to the defaults: figures recorded here only, no StatsD, no spans."""
    if CONFIG.statsd is not None:
        CONFIG.statsd.close()
    global _slots_seen
    CONFIG.enabled, CONFIG.statsd, CONFIG.tracing, CONFIG.otlp = True, None, None, None
    _slots_seen = None
    from millstream.observability.logs import set_log_format

    set_log_format("text")
    for memory in (_scheduled_at, _queued_at, _ended_at):
        memory.clear()


def _key(ti_key: Any) -> tuple[str, str, str, int]:
    return (ti_key.dag_id, ti_key.run_id, ti_key.task_id, ti_key.map_index)


def _remember(memory: dict[Any, datetime], key: Any, moment: datetime) -> None:
    if len(memory) >= _MEMORY:  # instances that never went on (a run that timed out)
        memory.clear()
    memory[key] = moment


def _now() -> datetime:
    return datetime.now(UTC)


# A family's child per label values: ``labels()`` checks and locks on every call, and the
# hot path (a try's start and end) asks for the same few children again and again.
_children: dict[tuple[int, tuple[str, ...]], Any] = {}


def _child(family: Any, *values: str) -> Any:
    key = (id(family), values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = family.labels(*values)
    return child


_slots_seen: tuple[int, int, int] | None = None


# -- the scheduler ------------------------------------------------------------------------------
def task_scheduled(ti_key: Any, now: datetime) -> None:
    """A task instance became ready to run (scheduled)."""
    if CONFIG.enabled:
        _remember(_scheduled_at, _key(ti_key), now)


def task_queued(ti_key: Any, try_number: int, ready_since: datetime | None = None) -> None:
    """A try of a task instance was handed to the executor (queued); ``ready_since``: when
    it became ready if this process did not see it scheduled (a retry's due moment)."""
    if not CONFIG.enabled:
        return
    key, now = _key(ti_key), _now()
    scheduled = _scheduled_at.pop(key, None) or ready_since
    if scheduled is not None:
        _latency("scheduled_to_queued", (now - scheduled).total_seconds())
    _remember(_queued_at, (key, try_number), now)


def _latency(stage: str, seconds: float) -> None:
    seconds = max(0.0, seconds)
    _child(f.TASK_QUEUE_LATENCY, stage).observe(seconds)
    if CONFIG.statsd is not None:
        CONFIG.statsd.timing("task_queue_latency", seconds * 1000, {"stage": stage})


def task_event(dag: Any, event: Any, count_end: bool = True) -> None:
    """An executor's event: a try started, or ended (or suspended). Without ``count_end``
    a try's end is not counted here: the caller calls :func:`try_ended` once it has
    recorded it (in the state it recorded)."""
    if not CONFIG.enabled:
        return
    if hasattr(event, "state"):
        _task_finished(dag, event, count_end)
    else:
        _task_started(dag, event)


def _task_started(dag: Any, event: Any) -> None:
    key = event.key
    queued = _queued_at.pop((_key(key), event.try_number), None)
    if queued is not None:
        _latency("queued_to_running", (event.start_date - queued).total_seconds())
    task = dag.task_dict.get(key.task_id) if dag is not None else None
    upstream = task.upstream_task_ids if task is not None else ()
    if not upstream:
        return
    run_ends = _ended_at.get((key.dag_id, key.run_id), {})
    ends = [run_ends.get(up) for up in upstream]
    if None in ends:  # an upstream ended before this process saw it (or was skipped)
        return
    seconds = max(0.0, (event.start_date - max(e for e in ends if e is not None))
                  .total_seconds())
    _child(f.TASK_HANDOFF_LATENCY, key.dag_id).observe(seconds)
    if CONFIG.statsd is not None:
        CONFIG.statsd.timing("task_handoff_latency", seconds * 1000, {"dag": key.dag_id})


def _task_finished(dag: Any, event: Any, count_end: bool) -> None:
    key, state = event.key, str(event.state.value)
    if getattr(event, "metrics", ()):
        from millstream.observability.user_metrics import apply_samples

        apply_samples(event.metrics)
    if state not in TRY_ENDS:
        return
    if count_end:
        try_ended(key.dag_id, key.task_id, state, event.start_date, event.end_date)
    run_ends = _ended_at.get((key.dag_id, key.run_id))
    if run_ends is None:
        if len(_ended_at) >= _MEMORY:
            _ended_at.clear()
        run_ends = _ended_at[(key.dag_id, key.run_id)] = {}
    run_ends[key.task_id] = event.end_date
    if CONFIG.tracing is not None:
        CONFIG.tracing.try_ended(event)


def try_ended(dag_id: str, task_id: str, state: str, start: datetime | None,
              end: datetime) -> None:
    """A try's end was recorded in ``state`` (suspensions are not ends): it counts in the
    tries finished, and its duration (from ``start``, if known) in the durations."""
    if not CONFIG.enabled or state not in TRY_ENDS:
        return
    seconds = None if start is None else max(0.0, (end - start).total_seconds())
    f.TASK_TRIES.ended(dag_id, task_id, state, seconds)
    statsd = CONFIG.statsd
    if statsd is not None:
        labels = {"dag": dag_id, "task": task_id}
        statsd.incr("task_tries_finished", 1, {**labels, "state": state})
        if seconds is not None:
            statsd.timing("task_duration", seconds * 1000, labels)


def run_created(run: Any) -> None:
    """A DAG run was created (by the schedule, a user, a backfill, an asset event)."""
    if not CONFIG.enabled:
        return
    f.DAG_RUNS_CREATED.labels(run.dag_id, run.run_type).inc()
    if CONFIG.statsd is not None:
        CONFIG.statsd.incr("dag_runs_created", 1, {"dag": run.dag_id, "run_type": run.run_type})


def run_finished(run: Any) -> None:
    """A DAG run ended (``run`` is its record with its end date)."""
    if not CONFIG.enabled:
        return
    state = str(run.state.value)
    _ended_at.pop((run.dag_id, run.run_id), None)
    if run.start_date is None or run.end_date is None:
        return
    seconds = max(0.0, (run.end_date - run.start_date).total_seconds())
    f.DAG_RUN_DURATION.labels(run.dag_id, state).observe(seconds)
    if CONFIG.statsd is not None:
        CONFIG.statsd.timing("dag_run_duration", seconds * 1000,
                             {"dag": run.dag_id, "state": state})
    if CONFIG.tracing is not None:
        CONFIG.tracing.run_ended(run)


def timed_tick(step: Callable[..., T], *args: Any) -> T:
    """Run one round of the scheduler loop, counting it and timing it; what it sends to
    StatsD goes out together at its end."""
    if not CONFIG.enabled:
        return step(*args)
    statsd = CONFIG.statsd
    with statsd.held() if statsd is not None else contextlib.nullcontext():
        started = time.perf_counter()
        try:
            return step(*args)
        finally:
            seconds = time.perf_counter() - started
            f.SCHEDULER_TICKS.inc()
            f.SCHEDULER_TICK_DURATION.observe(seconds)
            if statsd is not None:
                statsd.incr("scheduler_ticks")
                statsd.timing("scheduler_tick_duration", seconds * 1000)


def executor_slots(executor: Any) -> None:
    """How many of the executor's slots are used and free now, and how many tries it has
    taken ahead of a free slot (``executor.prefetch_multiplier``): those use no slot."""
    if not CONFIG.enabled:
        return
    global _slots_seen
    held = len(executor.in_flight())
    slots = getattr(executor, "parallelism", None)
    if slots is None:  # an executor of no fixed size: as it says
        used, free, prefetched = held, executor.open_slots(), 0
    else:
        used = min(held, slots)
        free, prefetched = slots - used, held - used
    if _slots_seen == (used, free, prefetched):  # most rounds change nothing
        return
    _slots_seen = (used, free, prefetched)
    f.EXECUTOR_SLOTS.labels("used").set(used)
    f.EXECUTOR_SLOTS.labels("free").set(free)
    f.EXECUTOR_SLOTS.labels("prefetched").set(prefetched)
    if CONFIG.statsd is not None:
        CONFIG.statsd.gauge("executor_slots", used, {"state": "used"})
        CONFIG.statsd.gauge("executor_slots", prefetched, {"state": "prefetched"})
        CONFIG.statsd.gauge("executor_slots", free, {"state": "free"})


def file_parsed(result: Any) -> None:
    """A DAG file was parsed (``result``: the parser's FileResult); unchanged files are not."""
    if not CONFIG.enabled or result.status == "unchanged":
        return
    outcome = "error" if result.error is not None else "ok"
    f.DAG_FILE_PARSE_DURATION.labels(result.path).set(result.duration_s)
    f.DAG_FILE_PARSES.labels(outcome).inc()
    if CONFIG.statsd is not None:
        CONFIG.statsd.timing("dag_file_parse_duration", result.duration_s * 1000,
                             {"file": result.path.rsplit("/", 1)[-1]})
        CONFIG.statsd.incr("dag_file_parses", 1, {"outcome": outcome})


def zombie_found(dag_id: str) -> None:
    """A try was found gone without a result."""
    _count(f.ZOMBIES_FOUND, "zombies_found")


def callback_failed(dag_id: str, kind: str) -> None:
    """A callback raised (``kind``: on_success_callback, sla_miss_callback ...)."""
    from millstream.observability.user_metrics import record_in_try

    # In a try's process the count travels back with the try's outcome.
    if not record_in_try("callbacks_failed", dag_id, kind):
        _count(f.CALLBACKS_FAILED, "callbacks_failed", dag=dag_id, kind=kind)


def callback_process_ended(dag_id: str, kind: str, failed: bool,
                           samples: tuple[str, ...] = ()) -> None:
    """A DAG callback's process ended (told in the scheduler's process): count what it
    reported (its callbacks that raised, metrics from its code), and, if the process itself
    failed (killed at its timeout, crashed, never started), one failed callback of ``kind``."""
    if samples:
        from millstream.observability.user_metrics import apply_samples

        apply_samples(samples)
    if failed:
        callback_failed(dag_id, kind)


def deadline_missed(dag_id: str, kind: str) -> None:
    """A task's sla, or a DAG's deadline, was missed."""
    _count(f.DEADLINE_MISSES, "deadline_misses", dag=dag_id, kind=kind)


def _count(family: Any, name: str, **labels: str) -> None:
    if not CONFIG.enabled:
        return
    (family.labels(**labels) if labels else family).inc()
    if CONFIG.statsd is not None:
        CONFIG.statsd.incr(name, 1, labels)


# -- the triggerer ------------------------------------------------------------------------------
def triggers_running(count: int) -> None:
    """How many triggers the triggerer runs now."""
    if not CONFIG.enabled:
        return
    f.TRIGGERS_RUNNING.set(count)
    if CONFIG.statsd is not None:
        CONFIG.statsd.gauge("triggers_running", count)


def trigger_ended(outcome: str, waits: Iterable[Any] = ()) -> None:
    """A trigger fired, failed or timed out; ``waits`` are the task instances that waited
    on it (records with their key, try number and when they deferred)."""
    _count(f.TRIGGERS_FIRED, "triggers_fired", outcome=outcome)
    if CONFIG.enabled and CONFIG.tracing is not None:
        now = _now()
        for ti in waits:  # a deferred instance's end date is when it deferred
            CONFIG.tracing.trigger_wait_ended(ti, outcome, ti.end_date or now, now)


# -- read from the database ----------------------------------------------------------------------
def database_figures(store: Any) -> None:
    """Send what the web server's scrape reads from the database (pools, import errors,
    heartbeat ages) to StatsD, which has no scrape: the scheduler calls this as it
    heartbeats. Without StatsD it does nothing."""
    statsd = CONFIG.statsd
    if not CONFIG.enabled or statsd is None:
        return
    import contextlib

    from millstream.observability.exposition import DatabaseCollector

    for family in DatabaseCollector(lambda: contextlib.nullcontext(store)).collect():
        for sample in family.samples:
            labels = dict(sample.labels)
            if family.name != "millstream_heartbeat_age_seconds":  # whose heartbeat: kept
                labels.pop("component", None)
                labels.pop("hostname", None)
            statsd.gauge(family.name.removeprefix("millstream_"), sample.value, labels)


class _ObservedCallbacks:
    """A scheduler's callback runner that also records each run's end (after the commit,
    when the scheduler calls it)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def dag_run_finished(self, dag: Any, run: Any, success: bool, reason: str) -> None:
        run_finished(run)
        self._inner.dag_run_finished(dag, run, success, reason)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def observed_callbacks(callbacks: T) -> T:
    """``callbacks`` (a scheduler's callback runner), recording run ends as they come."""
    return _ObservedCallbacks(callbacks)  # type: ignore[return-value]
