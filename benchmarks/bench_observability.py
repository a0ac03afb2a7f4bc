"""What metrics cost: chain100 and fan1000 with metrics off, on, and on with StatsD.

Usage: python benchmarks/bench_observability.py [--repeats N] [--json]

Each workload runs through the engine ``millstream scheduler`` builds (as in
bench_engine.py), ``--repeats`` times per mode, the modes taking turns so that a busy
moment of the machine does not land on one mode only:

- off: ``[metrics] enabled = false`` (nothing is recorded);
- prometheus: the default (every figure recorded in this process's registries);
- statsd: the same, and every figure also sent to a StatsD address (a local UDP socket
  the benchmark binds and never reads, so sends cost what they cost in production).

Figures, per mode, the median of the repeats: chain100's median handoff and whole run,
fan1000's tasks per second, and for both the engine's CPU time per task (this process and
every process it forked and reaped: scheduler, fork server, zygotes, tries). The cost of
each mode against ``off`` is given in percent of the wall figures and of the CPU time;
the target is at most 5 %. On a machine other work keeps busy the wall figures swing by
more than that from one run to the next, and the CPU time is the steadier measure.

The work metrics add to one try is also measured alone (``emission_us_per_task``): the
calls the scheduler makes for one task (ready, queued, started, ended, and one loop round
with its slots, as in a chain where each round moves one task), repeated in this
process, in microseconds; ``emission_share_percent``
puts it against the engine's CPU time per task with metrics off (fan1000).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

from bench_engine import (
    CHAIN_DAG,
    CHAIN_TIMEOUT_S,
    FAN_DAG,
    FAN_TIMEOUT_S,
    PARALLELISM,
    _instances,
    _span_s,
    cpu_s,
    engine_for,
    run_to_end,
)

MODES = ("off", "prometheus", "statsd")
TARGET_PERCENT = 5.0


def _environ(mode: str, statsd_port: int) -> dict[str, str]:
    environ = {"MILLSTREAM__SCHEDULER__PARALLELISM": str(PARALLELISM)}
    if mode == "off":
        environ["MILLSTREAM__METRICS__ENABLED"] = "false"
    if mode == "statsd":
        environ["MILLSTREAM__METRICS__STATSD_HOST"] = "127.0.0.1"
        environ["MILLSTREAM__METRICS__STATSD_PORT"] = str(statsd_port)
    return environ


def chain100(mode: str, statsd_port: int) -> tuple[float, float, float]:
    """(median handoff in ms, whole run in s, CPU ms per task) of one chain100 run."""
    cpu = cpu_s()
    with engine_for("bench_chain100", CHAIN_DAG.format(tasks=100),
                    _environ(mode, statsd_port)) as job:
        run = run_to_end(job, "bench_chain100", CHAIN_TIMEOUT_S)
        instances = _instances(job, run)
    by_number = sorted(instances, key=lambda ti: ti.task_id)  # t0000, t0001 ...: chain order
    handoffs = [_span_s(a.end_date, b.start_date) * 1000
                for a, b in itertools.pairwise(by_number)]
    cpu_ms = (cpu_s() - cpu) * 1000 / len(instances)
    return statistics.median(handoffs), _span_s(run.start_date, run.end_date), cpu_ms


def fan1000(mode: str, statsd_port: int) -> tuple[float, float]:
    """(tasks per second, CPU ms per task) of one fan1000 run."""
    cpu = cpu_s()
    with engine_for("bench_fan1000", FAN_DAG.format(tasks=1000),
                    _environ(mode, statsd_port)) as job:
        run = run_to_end(job, "bench_fan1000", FAN_TIMEOUT_S)
        instances = _instances(job, run)
    first = min(ti.start_date for ti in instances if ti.start_date is not None)
    last = max(ti.end_date for ti in instances if ti.end_date is not None)
    return len(instances) / _span_s(first, last), (cpu_s() - cpu) * 1000 / len(instances)


def emission_us_per_task(samples: int = 20_000, statsd_port: int | None = None) -> float:
    """CPU microseconds of metrics work the scheduler does for one task of a 100-task chain."""
    import time
    from datetime import UTC, datetime, timedelta

    from millstream import DAG, chain, observability
    from millstream.config import load_settings
    from millstream.model.states import TaskState
    from millstream.observability import emit
    from millstream.operators.empty import EmptyOperator
    from millstream.parsing.serialize import DagStructure
    from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent
    from millstream.store.records import TaskInstanceKey

    with DAG("bench_emission", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        chain(*[EmptyOperator(task_id=f"t{i:04d}") for i in range(100)])
    view = DagStructure.from_dag(dag)

    class Slots:
        def open_slots(self) -> int:
            return 7

        def in_flight(self) -> set[object]:
            return {"one"}

    environ = {} if statsd_port is None else {
        "MILLSTREAM__METRICS__STATSD_HOST": "127.0.0.1",
        "MILLSTREAM__METRICS__STATSD_PORT": str(statsd_port)}
    observability.configure(load_settings(environ=environ))
    now = datetime.now(UTC)
    events = []
    for i in range(100):
        key = TaskInstanceKey("bench_emission", "run", f"t{i:04d}", -1)
        start, end = now + timedelta(milliseconds=3 * i), now + timedelta(milliseconds=3 * i + 2)
        events.append((key, TaskStartedEvent(key, 1, start),
                       TaskFinishedEvent(key, 1, TaskState.SUCCESS, start, end)))
    slots = Slots()

    def one_task(n: int) -> None:  # a chain's task: one round of the loop each
        key, began, ended = events[n % 100]
        observability.task_scheduled(key, now)
        observability.task_queued(key, 1)
        observability.task_event(view, began)
        observability.task_event(view, ended)
        observability.executor_slots(slots)

    started = time.process_time()  # CPU time: what the work costs, not how long it waited
    for n in range(samples):
        observability.timed_tick(one_task, n)
    elapsed = time.process_time() - started
    emit.reset()
    return elapsed / samples * 1_000_000


def bench(repeats: int) -> dict[str, Any]:
    """Every mode, ``repeats`` times each, taking turns; the medians and the costs."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    handoff: dict[str, list[float]] = {m: [] for m in MODES}
    total: dict[str, list[float]] = {m: [] for m in MODES}
    rate: dict[str, list[float]] = {m: [] for m in MODES}
    chain_cpu: dict[str, list[float]] = {m: [] for m in MODES}
    fan_cpu: dict[str, list[float]] = {m: [] for m in MODES}
    try:
        for _ in range(repeats):
            for mode in MODES:
                median_ms, run_s, cpu_ms = chain100(mode, port)
                handoff[mode].append(median_ms)
                total[mode].append(run_s)
                chain_cpu[mode].append(cpu_ms)
                tasks_per_s, cpu_ms = fan1000(mode, port)
                rate[mode].append(tasks_per_s)
                fan_cpu[mode].append(cpu_ms)
    finally:
        sink.close()
    figures: dict[str, Any] = {"observability.repeats": repeats}
    for mode in MODES:
        for name, values in (("chain100_handoff_median_ms", handoff),
                             ("chain100_total_s", total), ("chain100_cpu_per_task_ms", chain_cpu),
                             ("fan1000_tasks_per_s", rate), ("fan1000_cpu_per_task_ms", fan_cpu)):
            figures[f"observability.{name}.{mode}"] = statistics.median(values[mode])
    for mode in MODES[1:]:
        for key, name, higher_is_better in (
            ("chain100_wall", "chain100_total_s", False),
            ("chain100_cpu", "chain100_cpu_per_task_ms", False),
            ("fan1000_wall", "fan1000_tasks_per_s", True),
            ("fan1000_cpu", "fan1000_cpu_per_task_ms", False),
        ):
            off = figures[f"observability.{name}.off"]
            measured = figures[f"observability.{name}.{mode}"]
            ratio = off / measured if higher_is_better else measured / off
            figures[f"observability.{key}_cost_percent.{mode}"] = (ratio - 1) * 100
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    try:
        for mode, port in (("prometheus", None), ("statsd", sink.getsockname()[1])):
            micros = statistics.median(emission_us_per_task(statsd_port=port)
                                       for _ in range(3))
            figures[f"observability.emission_us_per_task.{mode}"] = micros
            figures[f"observability.emission_share_percent.{mode}"] = (
                micros / 1000 / figures["observability.fan1000_cpu_per_task_ms.off"] * 100)
    finally:
        sink.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per mode and workload")
    parser.add_argument("--emission-only", action="store_true",
                        help="measure only the metrics work per task, in this process")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.emission_only:
        micros = statistics.median(emission_us_per_task() for _ in range(3))
        print(f"observability.emission_us_per_task.prometheus: {micros:.4g}")
        return 0
    figures = bench(args.repeats)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for key, value in figures.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    for kind in ("cpu", "wall"):
        costs = [v for k, v in figures.items() if f"_{kind}_cost_percent." in k]
        print(f"{kind} cost, target at most {TARGET_PERCENT:g} %: "
              f"{'met' if max(costs) <= TARGET_PERCENT else 'NOT met'} "
              f"(worst {max(costs):.2g} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
