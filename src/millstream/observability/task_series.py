"""The per-task families (tries finished, try durations), kept as plain numbers.

A Prometheus client histogram makes a child per label set with a lock and a value per
bucket, which costs a try's end about as much as applying it when the task is new to this
process (a fan-out of a thousand tasks is a thousand new children). These families are
kept as counts per task instead and turned into the same Prometheus families only when
they are scraped: a try's end is a dictionary look-up, a bisection and two additions.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString


class TaskTrySeries(Collector):
    """``<tries>_total`` by DAG, task and outcome, and the ``<durations>`` histogram by DAG
    and task, as a collector for a Prometheus registry."""

    def __init__(self, tries: tuple[str, str], durations: tuple[str, str],
                 buckets: Sequence[float]) -> None:
        bounds = [float(b) for b in buckets]
        if not bounds or bounds != sorted(bounds) or bounds[-1] != math.inf:
            raise ValueError(f"buckets must rise and end with +Inf, not {buckets!r}")
        self._tries_name, self._tries_help = tries
        self._durations_name, self._durations_help = durations
        self._bounds = bounds
        self._labels = [floatToGoString(b) for b in bounds]  # type: ignore[no-untyped-call]
        self._lock = threading.Lock()
        self._finished: dict[tuple[str, str, str], float] = {}
        # (dag, task) -> a count per bucket (not cumulative), then the sum of the seconds.
        self._durations: dict[tuple[str, str], list[float]] = {}

    def ended(self, dag_id: str, task_id: str, state: str, seconds: float | None) -> None:
        """A try of ``task_id`` ended in ``state``, after ``seconds`` (None: not known)."""
        key = (dag_id, task_id, state)
        with self._lock:
            self._finished[key] = self._finished.get(key, 0.0) + 1
            if seconds is None:
                return
            counts = self._durations.get((dag_id, task_id))
            if counts is None:
                counts = self._durations[(dag_id, task_id)] = [0.0] * (len(self._bounds) + 1)
            counts[bisect.bisect_left(self._bounds, seconds)] += 1
            counts[-1] += seconds

    def label_names(self, family: str) -> tuple[str, ...]:
        """The label names of ``family``'s samples (``le`` aside)."""
        if family == self._tries_name:
            return ("dag", "task", "state")
        if family == self._durations_name:
            return ("dag", "task")
        raise KeyError(family)

    def describe(self) -> Iterator[Metric]:
        """The two families, without samples (what the registry checks names against)."""
        yield CounterMetricFamily(self._tries_name, self._tries_help,
                                  labels=self.label_names(self._tries_name))
        yield HistogramMetricFamily(self._durations_name, self._durations_help,
                                    labels=self.label_names(self._durations_name))

    def collect(self) -> Iterator[Metric]:
        """The two families with a sample set per task seen."""
        with self._lock:
            finished = list(self._finished.items())
            durations = [(key, list(counts)) for key, counts in self._durations.items()]
        tries = CounterMetricFamily(self._tries_name, self._tries_help,
                                    labels=self.label_names(self._tries_name))
        for labels, count in finished:
            tries.add_metric(labels, count)
        yield tries
        histogram = HistogramMetricFamily(self._durations_name, self._durations_help,
                                          labels=self.label_names(self._durations_name))
        for key, counts in durations:
            cumulative, buckets = 0.0, []
            for label, count in zip(self._labels, counts, strict=False):
                cumulative += count
                buckets.append((label, cumulative))
            histogram.add_metric(key, buckets, counts[-1])
        yield histogram
