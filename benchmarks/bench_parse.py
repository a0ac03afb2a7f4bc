"""The parse200 workload: 200 DAG files of 10 tasks each, parsed in worker processes.

Usage: python benchmarks/bench_parse.py [--json]

Prints the time :func:`millstream.parsing.processor.parse_files` takes for all 200 files
(target: <= 2 s), the time to re-check them when nothing changed, and the floor: the
same files imported and serialized in this process, one after another, with
``load_dag_file``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

FILES = 200
TASKS = 10
REPEATS = 3
TARGET_S = 2.0

DAG_TEMPLATE = """\
    from datetime import datetime, timedelta

    from millstream import DAG, chain
    from millstream.operators.empty import EmptyOperator
    from millstream.operators.python import PythonOperator


    def work(n):
        return n * 2


    with DAG(
        "bench_parse_{index:03d}",
        schedule="@daily",
        start_date=datetime(2026, 1, 1),
        catchup=False,
        default_args={{"retries": 1, "retry_delay": timedelta(minutes=1)}},
        tags=["bench"],
    ) as dag:
        start = EmptyOperator(task_id="start")
        steps = [
            PythonOperator(task_id=f"step_{{i}}", python_callable=work, op_args=[i])
            for i in range({middle})
        ]
        end = EmptyOperator(task_id="end")
        chain(start, *steps, end)
"""


def write_dag_files(folder: Path, files: int = FILES, tasks: int = TASKS) -> list[Path]:
    """Write ``files`` DAG files of ``tasks`` tasks each into ``folder``."""
    paths = []
    for index in range(files):
        path = folder / f"bench_dag_{index:03d}.py"
        path.write_text(textwrap.dedent(DAG_TEMPLATE.format(index=index, middle=tasks - 2)))
        paths.append(path)
    return paths


def bench_parse200() -> dict[str, Any]:
    """Time parse_files over 200 fresh files, the unchanged re-check, and the in-process floor.

    Each figure is the median of a few repeats; every repeat writes new files, so nothing
    is skipped as unchanged and no bytecode cache helps.
    """
    from millstream.parsing.loader import load_dag_file
    from millstream.parsing.processor import parse_files
    from millstream.parsing.serialize import serialize_dag

    parse_s: list[float] = []
    unchanged_s: list[float] = []
    floor_s: list[float] = []
    dags = 0
    for repeat in range(REPEATS):
        with tempfile.TemporaryDirectory(prefix="millstream-parse200-") as tmp:
            parsed_dir = Path(tmp) / "parsed"
            floor_dir = Path(tmp) / "floor"
            parsed_dir.mkdir()
            floor_dir.mkdir()
            paths = write_dag_files(parsed_dir)
            start = time.perf_counter()
            report = parse_files(paths)
            parse_s.append(time.perf_counter() - start)
            if report.import_errors:
                first = next(iter(report.import_errors.values()))
                raise RuntimeError(f"parse200 file failed to import: {first.summary}")
            dags = len(report.dags)

            start = time.perf_counter()
            again = parse_files(paths, previous=report.fingerprints)
            unchanged_s.append(time.perf_counter() - start)
            if len(again.unchanged) != FILES:
                raise RuntimeError(f"repeat {repeat}: unchanged files were parsed again")

            floor_paths = write_dag_files(floor_dir)
            start = time.perf_counter()
            for path in floor_paths:
                for dag in load_dag_file(path).values():
                    json.dumps(serialize_dag(dag))
            floor_s.append(time.perf_counter() - start)
    parse = statistics.median(parse_s)
    floor = statistics.median(floor_s)
    return {
        "files": FILES,
        "tasks_per_file": TASKS,
        "dags": dags,
        "parse200.total_s": parse,
        "parse200.unchanged_s": statistics.median(unchanged_s),
        "parse200.floor_s": floor,
        "parse200.overhead_ratio": parse / floor if floor else None,
        "parse200.target_s": TARGET_S,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the workload and print its figures (as JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = bench_parse200()
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"parse200: {figures['files']} files x {figures['tasks_per_file']} tasks "
          f"-> {figures['dags']} DAGs")
    print(f"  parse_files     {figures['parse200.total_s']:.3f} s  (target <= {TARGET_S} s)")
    print(f"  unchanged check {figures['parse200.unchanged_s']:.3f} s")
    print(f"  floor (in-process load_dag_file loop) {figures['parse200.floor_s']:.3f} s")
    print(f"  overhead = measured / floor = {figures['parse200.overhead_ratio']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
