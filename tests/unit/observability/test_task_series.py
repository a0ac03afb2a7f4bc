"""The per-task families kept as plain numbers are exported exactly as the Prometheus
client's own counter and histogram would export the same observations."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from millstream.observability.families import DURATION_BUCKETS, GROUPS
from millstream.observability.task_series import TaskTrySeries

TRIES = ("demo_tries_finished", "Tries that ended.")
DURATIONS = ("demo_duration_seconds", "How long tries ran.")
ENDS = [
    ("etl", "extract", "success", 0.0004),
    ("etl", "extract", "success", 0.001),  # on a bucket's bound: counted in that bucket
    ("etl", "extract", "up_for_retry", 12.5),
    ("etl", "load", "failed", None),  # no start known: counted, no duration
    ("etl", "load", "success", 20000.0),  # past the last finite bound
    ("other", "extract", "skipped", 0.3),
]


def _client_families() -> CollectorRegistry:
    registry = CollectorRegistry()
    tries = Counter(TRIES[0], TRIES[1], ["dag", "task", "state"], registry=registry)
    durations = Histogram(DURATIONS[0], DURATIONS[1], ["dag", "task"],
                          buckets=DURATION_BUCKETS, registry=registry)
    for dag, task, state, seconds in ENDS:
        tries.labels(dag, task, state).inc()
        if seconds is not None:
            durations.labels(dag, task).observe(seconds)
    return registry


def _series() -> CollectorRegistry:
    registry = CollectorRegistry()
    series = TaskTrySeries(TRIES, DURATIONS, DURATION_BUCKETS)
    registry.register(series)
    for dag, task, state, seconds in ENDS:
        series.ended(dag, task, state, seconds)
    return registry


def _without_created(text: bytes) -> list[str]:
    return sorted(line for line in text.decode().splitlines() if "_created" not in line)


def test_the_series_are_scraped_as_the_clients_counter_and_histogram_would_be() -> None:
    assert _without_created(generate_latest(_series())) == _without_created(
        generate_latest(_client_families()))


def test_a_histogram_sample_set_per_task_with_cumulative_buckets() -> None:
    registry = _series()
    assert registry.get_sample_value(
        "demo_duration_seconds_bucket", {"dag": "etl", "task": "extract", "le": "0.001"}) == 2
    assert registry.get_sample_value(
        "demo_duration_seconds_bucket", {"dag": "etl", "task": "extract", "le": "+Inf"}) == 3
    assert registry.get_sample_value(
        "demo_duration_seconds_count", {"dag": "etl", "task": "load"}) == 1
    assert registry.get_sample_value(
        "demo_tries_finished_total", {"dag": "etl", "task": "load", "state": "failed"}) == 1


def test_nothing_ended_still_names_both_families() -> None:
    names = {family.name for family in TaskTrySeries(TRIES, DURATIONS, (1.0, math.inf))
             .collect()}
    assert names == {"demo_tries_finished", "demo_duration_seconds"}


def test_buckets_must_rise_to_infinity() -> None:
    with pytest.raises(ValueError, match="must rise and end with"):
        TaskTrySeries(TRIES, DURATIONS, (1.0, 5.0))
    with pytest.raises(ValueError, match="must rise and end with"):
        TaskTrySeries(TRIES, DURATIONS, (5.0, 1.0, math.inf))


def test_the_scheduler_registry_exports_them_under_millstreams_names() -> None:
    names = {family.name for family in GROUPS.scheduler.collect()}
    assert {"millstream_task_tries_finished", "millstream_task_duration_seconds"} <= names
