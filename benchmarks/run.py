"""Run every benchmark workload and print its figures next to the floor measured in the same run.

Usage: python benchmarks/run.py [--json FILE] [--only NAME ...]

Absolute times vary between machines, so each workload also measures a floor on this
machine (the least work that could do the same job) and reports measured / floor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

REPEATS = 5


@dataclass
class Figure:
    """One measured figure, its target, and the floor it is compared with."""

    key: str
    value: float
    unit: str
    target: str
    floor: float | None = None

    @property
    def overhead_ratio(self) -> float | None:
        if not self.floor:
            return None
        return self.value / self.floor


def _median_seconds(action: Callable[[], object], repeats: int = REPEATS) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_test100() -> list[Figure]:
    """chain100 under dag.test(); floor: the same 100 operators executed in a plain loop."""
    from millstream import DAG, chain
    from millstream.operators.empty import EmptyOperator

    def build() -> DAG:
        with DAG("bench_test100") as dag:
            chain(*[EmptyOperator(task_id=f"t{i:03d}") for i in range(100)])
        return dag

    dag = build()
    total = _median_seconds(lambda: dag.test(logical_date="2026-01-01"))
    result = dag.test(logical_date="2026-01-01")
    if result.state != "success":
        raise RuntimeError(f"test100 run ended {result.state}")

    def floor() -> None:
        for task in dag.topological_sort():
            task.execute({})

    floor_s = _median_seconds(lambda: (build(), floor()))
    return [Figure("test100.total_s", total, "s", "<= 0.2", floor_s)]


def bench_import() -> list[Figure]:
    """``python -c "import millstream"`` minus bare ``python -c pass`` (best of several)."""

    def best(code: str) -> float:
        samples = []
        for _ in range(REPEATS * 2):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            samples.append(time.perf_counter() - start)
        return min(samples)

    bare = best("pass")
    with_import = best("import millstream")
    return [Figure("import.overhead_ms", (with_import - bare) * 1000, "ms", "<= 150",
                   bare * 1000)]


WORKLOADS: dict[str, Callable[[], list[Figure]]] = {
    "test100": bench_test100,
    "import": bench_import,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--only", nargs="*", choices=sorted(WORKLOADS), help="run only these")
    args = parser.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    figures: list[Figure] = []
    console = Console()
    with console.status("running benchmarks") as status:
        for name, workload in WORKLOADS.items():
            if args.only and name not in args.only:
                continue
            status.update(f"running {name}")
            figures.extend(workload())
    table = Table(title="millstream benchmarks")
    for column in ("figure", "measured", "target", "floor", "overhead"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for fig in figures:
        ratio = fig.overhead_ratio
        table.add_row(
            fig.key,
            f"{fig.value:.4g} {fig.unit}",
            f"{fig.target} {fig.unit}",
            "-" if fig.floor is None else f"{fig.floor:.4g}",
            "-" if ratio is None else f"{ratio:.1f}x",
        )
    console.print(table)
    if args.json:
        data: dict[str, float] = {}
        for fig in figures:
            data[fig.key] = fig.value
            prefix = fig.key.split(".")[0]
            if fig.floor is not None:
                data[f"{prefix}.floor"] = fig.floor
                data[f"{prefix}.overhead_ratio"] = fig.overhead_ratio or 0.0
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
