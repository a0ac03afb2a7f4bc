"""Serving the figures to Prometheus: the text format, ``component`` and ``hostname`` labels
on every sample, the endpoints of the scheduler, worker and triggerer, and the families
read from the metadata database when the web server is scraped."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from millstream.model.states import TaskState
from millstream.observability import families as f

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from millstream.config import Settings
    from millstream.store.interfaces import Store

log = logging.getLogger("millstream.observability")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HEARTBEAT_COMPONENTS = ("scheduler", "triggerer")


class ComponentCollector(Collector):
    """The families of one registry, each sample labelled with the component and host."""

    def __init__(self, registry: CollectorRegistry, component: str,
                 hostname: str | None = None) -> None:
        self.registry = registry
        self.labels = {"component": component, "hostname": hostname or socket.gethostname()}

    def collect(self) -> Iterator[Metric]:
        for family in self.registry.collect():
            labelled = Metric(family.name, family.documentation, family.type, family.unit)
            for sample in family.samples:
                labelled.add_sample(sample.name, {**sample.labels, **self.labels},
                                    sample.value, sample.timestamp, sample.exemplar)
            yield labelled

    def describe(self) -> Iterable[Metric]:
        return ()


class DatabaseCollector(Collector):
    """Pools, import errors and heartbeat ages, read from the store at each scrape."""

    def __init__(self, open_store: Callable[[], contextlib.AbstractContextManager[Store]],
                 hostname: str | None = None) -> None:
        self.open_store = open_store
        self.hostname = hostname or socket.gethostname()

    def collect(self) -> Iterator[Metric]:
        try:
            with self.open_store() as store, store.transaction(read_only=True):
                pools = store.pools.list()
                busy = store.task_instances.in_states([TaskState.RUNNING, TaskState.QUEUED])
                errors = [e for e in store.import_errors.list() if e.traceback]
                jobs = {kind: store.jobs.latest(kind) for kind in HEARTBEAT_COMPONENTS}
        except Exception:  # a scrape reports what it can; the database may be down
            log.exception("metrics: the metadata database cannot be read")
            return
        base = {"component": "webserver", "hostname": self.hostname}
        labels = [*base, "pool", "state"]
        slots = GaugeMetricFamily("millstream_pool_slots", "Slots of each pool: running, "
                                  "queued and free.", labels=labels)
        taken: dict[tuple[str, TaskState], int] = {}
        for ti in busy:
            taken[(ti.pool, ti.state)] = taken.get((ti.pool, ti.state), 0) + ti.pool_slots
        for name, size, _ in pools:
            running = taken.get((name, TaskState.RUNNING), 0)
            queued = taken.get((name, TaskState.QUEUED), 0)
            for state, value in (("running", running), ("queued", queued),
                                 ("free", max(size - running - queued, 0))):
                slots.add_metric([*base.values(), name, state], value)
        yield slots
        yield _gauge("millstream_dag_import_errors", "DAG files that fail to load.", base,
                     len(errors))
        # Here component and hostname are those of the heartbeat, not of the web server.
        age = GaugeMetricFamily(
            "millstream_heartbeat_age_seconds", "Seconds since each component's latest "
            "heartbeat in the metadata database.", labels=["component", "hostname"])
        now = datetime.now(UTC)
        for kind, job in jobs.items():
            if job is not None:
                age.add_metric([kind, job.hostname],
                               max(0.0, (now - job.latest_heartbeat).total_seconds()))
        yield age

    def describe(self) -> Iterable[Metric]:
        return ()


def _gauge(name: str, documentation: str, labels: dict[str, str], value: float) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


def serving_registry(components: Iterable[tuple[CollectorRegistry, str]],
                     extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """One registry exposing the given groups (each as its component) and collectors."""
    serving = CollectorRegistry(auto_describe=False)
    for registry, component in components:
        serving.register(ComponentCollector(registry, component))
    for collector in extra:
        serving.register(collector)
    return serving


def all_groups() -> list[tuple[CollectorRegistry, str]]:
    """Every group with its component name (a process that runs every part)."""
    return [(f.GROUPS.scheduler, f.SCHEDULER), (f.GROUPS.worker, f.WORKER),
            (f.GROUPS.triggerer, f.TRIGGERER)]


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text format of ``registry``."""
    return generate_latest(registry)


_servers: list[WSGIServer] = []


def serve(settings: Settings, port: int | None,
          components: Iterable[tuple[CollectorRegistry, str]]) -> int | None:
    """Serve ``components`` on ``port`` of ``[metrics] host`` (in a thread), if a port is
    set and metrics are on; returns the port it listens on (0 picks a free one)."""
    if port is None or not settings.metrics.enabled:
        return None
    server, _thread = start_http_server(port, settings.metrics.host,
                                        registry=serving_registry(components))
    _servers.append(server)
    bound: int = server.server_address[1]
    log.info("metrics on http://%s:%d/metrics", settings.metrics.host, bound)
    return bound


def serve_scheduler(settings: Settings, with_local_worker: bool = True) -> dict[str, int]:
    """The scheduler's endpoint, and the worker side's when the executor runs here."""
    ports: dict[str, int] = {}
    bound = serve(settings, settings.metrics.scheduler_port,
                  [(f.GROUPS.scheduler, f.SCHEDULER)])
    if bound is not None:
        ports[f.SCHEDULER] = bound
    if with_local_worker:
        bound = serve(settings, settings.metrics.worker_port, [(f.GROUPS.worker, f.WORKER)])
        if bound is not None:
            ports[f.WORKER] = bound
    return ports


def serve_worker(settings: Settings) -> int | None:
    """A Celery worker's endpoint, when ``[metrics] worker_port`` is set: the tries it ran
    and recorded (their outcomes, durations) and what their task code reported."""
    return serve(settings, settings.metrics.worker_port,
                 [(f.GROUPS.scheduler, f.WORKER), (f.GROUPS.worker, f.WORKER)])


def serve_triggerer(settings: Settings) -> int | None:
    """The triggerer's endpoint, when ``[metrics] triggerer_port`` is set."""
    return serve(settings, settings.metrics.triggerer_port, [(f.GROUPS.triggerer, f.TRIGGERER)])


def stop_serving() -> None:
    """Stop every endpoint this process started."""
    while _servers:
        server = _servers.pop()
        threading.Thread(target=server.shutdown, daemon=True).start()
        server.server_close()
