"""The etl workload: etl_sales_pipeline's throughput on 1,000,000 generated orders in PostgreSQL.

Usage: python benchmarks/bench_etl.py [--orders N] [--repeats R] [--json]

Needs a PostgreSQL server: ``MILLSTREAM_BENCH_POSTGRES_URL``, else
``MILLSTREAM_TEST_POSTGRES_URL``. Without either it says it skipped the figures and
exits with 0.

Set-up (not measured): a fresh schema on the server as the ``sales_db`` source
(``MILLSTREAM_CONN_SALES_DB`` with a ``search_path``), N orders generated into it with
COPY, all in one day's data interval, and read once to warm the caches. Then, R times
(default 4), into a fresh ``warehouse_db`` schema each time, the example DAG
(``examples/dags/etl_sales_pipeline.py``, unchanged) runs once with ``dag.test()``: the
scheduler over the in-memory store, each task in this process. The figures are the
medians of the task durations the store recorded:

- extract: orders / ``extract_sales_data`` (the interval's rows COPYed out to CSV)
- transform: orders / ``transform_sales_data`` (CSV in, cleaned CSV with totals out)
- load: rows loaded / ``load_tasks.load_detail`` (DELETE of the interval, then COPY into
  ``sales_fact`` with its primary key and date index)
- beside them: the summary rebuild, the validation and the whole run, in seconds.

Floors, on the same server and data, measured after the run in odd repeats and before it
in even ones, so neither always pays for the other's writes (medians too; ``overhead =
floor rate / measured rate``):

- extract: a bare psycopg ``COPY (SELECT ...) TO STDOUT`` of the same rows into a file
- transform: reading and writing every row of the same file with the csv module
- load: a bare psycopg ``COPY ... FROM STDIN`` of the same transformed file into a fresh
  table with the same columns, key and index

Before each measured run and each floor the server is asked for a CHECKPOINT (when the
user may), so that no measurement pays for the writes of the one before it.

Nothing is left behind: the schemas are dropped and the temporary home deleted.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "dags"
ORDERS = 1_000_000
REPEATS = 4
# The workload's own target: a million orders through each phase in at most 10 s.
TARGET_ROWS_PER_S = 100_000
URL_ENVS = ("MILLSTREAM_BENCH_POSTGRES_URL", "MILLSTREAM_TEST_POSTGRES_URL")
SKIPPED = ("etl: skipped the PostgreSQL throughput figures: set MILLSTREAM_BENCH_POSTGRES_URL "
           "(or MILLSTREAM_TEST_POSTGRES_URL) to a server to measure them on")
LOGICAL_DATE = "2026-03-10T06:00:00+00:00"
START = datetime(2026, 3, 10, 6, tzinfo=UTC)  # the data interval of LOGICAL_DATE
END = START + timedelta(days=1)
EXTRACT_SQL = """
    SELECT order_id, customer_id, product_id, quantity, unit_price,
           to_char(order_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), region
    FROM sales_orders
    WHERE order_date >= %s AND order_date < %s
"""
FACT_COLUMNS = ("order_id, customer_id, product_id, quantity, unit_price, total_amount, "
                "order_date, order_month, region")

Status = Callable[[str], None]


def _quiet(message: str) -> None:
    """The default status callback: say nothing."""


def postgres_url() -> str | None:
    """The server to measure on, or None."""
    for name in URL_ENVS:
        if os.environ.get(name):
            return os.environ[name]
    return None


@contextlib.contextmanager
def schema(url: str, purpose: str) -> Iterator[str]:
    """A fresh schema, dropped at the end; yields a URI whose search_path is that schema."""
    import psycopg

    name = f"millstream_bench_{purpose}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{name}"')
    try:
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _connect(uri: str) -> Any:
    import psycopg

    conn = psycopg.connect(uri, autocommit=True)
    conn.execute("SET TIME ZONE 'UTC'")
    return conn


def generate_source(uri: str, orders: int) -> None:
    """The source table filled with ``orders`` generated orders of the interval."""
    from common.sales_data import SOURCE_COLUMNS, OrderGenerator, source_table_ddl

    with _connect(uri) as conn:
        for statement in source_table_ddl("TIMESTAMPTZ(0)"):
            conn.execute(statement)
        with conn.cursor() as cursor, cursor.copy(
            f"COPY sales_orders ({', '.join(SOURCE_COLUMNS)}) FROM STDIN"
        ) as copy:
            for row in OrderGenerator().orders(START, END, orders, 1):
                copy.write_row(row)
        conn.execute("ANALYZE sales_orders")


def run_pipeline() -> dict[str, Any]:
    """One dag.test() of the example; the durations and counts it recorded."""
    from millstream.parsing import load_dag_file

    dag = load_dag_file(EXAMPLES / "etl_sales_pipeline.py")["etl_sales_pipeline"]
    started = time.perf_counter()
    result = dag.test(logical_date=LOGICAL_DATE)
    total = time.perf_counter() - started
    if result.state != "success":
        failed = [(t.label, t.error) for t in result.tasks if t.state != "success"]
        raise RuntimeError(f"etl_sales_pipeline ended {result.state}: {failed}")
    durations = {t.label: t.duration or 0.0 for t in result.tasks}
    return {
        "durations": durations,
        "total_s": total,
        "extracted": result.xcom_pull("extract_sales_data")["record_count"],
        "loaded": result.xcom_pull("load_tasks.load_detail")["detail_loaded"],
    }


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _copy_out(source_uri: str, target_file: Path) -> None:
    with _connect(source_uri) as conn, target_file.open("wb") as target, \
            conn.cursor().copy(f"COPY ({EXTRACT_SQL}) TO STDOUT WITH (FORMAT csv)",
                               (START, END)) as copy:
        for chunk in copy:
            target.write(chunk)


def settle(uri: str) -> bool:
    """Flush the server's dirty pages (CHECKPOINT), so one measurement does not pay for
    the writes of the one before; False if this user may not."""
    import psycopg

    with _connect(uri) as conn:
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            return False
    return True


def warm_up(source_uri: str, folder: Path) -> None:
    """Read the source once, so the pipeline and the floor both find it in the caches."""
    scratch = folder / "warm_up.csv"
    _copy_out(source_uri, scratch)
    scratch.unlink()


def measure_floors(source_uri: str, warehouse_uri: str, folder: Path) -> dict[str, float]:
    """Seconds for the bare extract COPY, the bare CSV pass and the bare load COPY.

    Works in ``floor_fact``, made with the pipeline's own DDL for ``sales_fact``, and
    leaves the warehouse's own tables as it found them.
    """
    extract_file = folder / "floor_extract.csv"
    passed_file = folder / "floor_pass.csv"
    detail_file = folder / "floor_detail.csv"

    def csv_pass() -> None:
        with extract_file.open(newline="") as source, passed_file.open("w", newline="") as out:
            csv.writer(out, lineterminator="\n").writerows(csv.reader(source))

    settle(source_uri)
    extract_s = _timed(lambda: _copy_out(source_uri, extract_file))
    transform_s = _timed(csv_pass)
    # The same transformed rows the pipeline loads, made by the pipeline's own function.
    etl = _example_module("etl_sales_pipeline")
    etl.transform_orders(extract_file, detail_file)
    with _connect(warehouse_uri) as conn:
        existed = conn.execute("SELECT to_regclass('sales_fact') IS NOT NULL").fetchone()[0]
        if not existed:
            from common.db import Database

            warehouse = Database.for_connection("warehouse_db")
            with warehouse.session() as session:
                etl.create_warehouse_tables(session, warehouse)
        conn.execute("CREATE TABLE floor_fact (LIKE sales_fact INCLUDING ALL)")
        if not existed:  # the pipeline creates its tables itself, as on its first run
            conn.execute("DROP TABLE sales_fact, sales_summary")
        settle(warehouse_uri)

        def load() -> None:
            with conn.transaction(), detail_file.open("rb") as source, \
                    conn.cursor().copy(f"COPY floor_fact ({FACT_COLUMNS}) FROM STDIN "
                                       "WITH (FORMAT csv)") as copy:
                while chunk := source.read(1 << 20):
                    copy.write(chunk)

        load_s = _timed(load)
        conn.execute("DROP TABLE floor_fact")
    return {"extract_s": extract_s, "transform_s": transform_s, "load_s": load_s}


def _example_module(name: str) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_etl(orders: int = ORDERS, repeats: int = REPEATS, status: Status = _quiet,
              ) -> dict[str, Any] | None:
    """The figures of the etl workload, or None when no PostgreSQL server is configured.

    The pipeline runs ``repeats`` times, each into a fresh warehouse, each followed by
    the floors; every figure is the median of its repeats (the machine is shared).
    """
    url = postgres_url()
    if url is None:
        return None
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    names = ("MILLSTREAM_HOME", "MILLSTREAM_CONN_SALES_DB", "MILLSTREAM_CONN_WAREHOUSE_DB")
    saved = {name: os.environ.get(name) for name in names}
    runs: list[dict[str, Any]] = []
    settled = False
    floors: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="millstream-bench-etl-") as tmp, \
            schema(url, "src") as source_uri:
        os.environ["MILLSTREAM_CONN_SALES_DB"] = source_uri
        try:
            status(f"etl: generating {orders:,} orders into PostgreSQL")
            generate_s = _timed(lambda: generate_source(source_uri, orders))
            warm_up(source_uri, Path(tmp))
            for repeat in range(1, repeats + 1):
                folder = Path(tmp) / f"repeat{repeat}"
                folder.mkdir()
                os.environ["MILLSTREAM_HOME"] = str(folder)
                with schema(url, "wh") as warehouse_uri:
                    os.environ["MILLSTREAM_CONN_WAREHOUSE_DB"] = warehouse_uri
                    # Alternate which goes first: the second pays for the first's writes
                    # as they reach the disk, whatever a CHECKPOINT does.
                    if repeat % 2 == 0:
                        status(f"etl: the floors ({repeat}/{repeats})")
                        floors.append(measure_floors(source_uri, warehouse_uri, folder))
                    status(f"etl: etl_sales_pipeline on {orders:,} orders ({repeat}/{repeats})")
                    settled = settle(source_uri)
                    runs.append(run_pipeline())
                    if repeat % 2 == 1:
                        status(f"etl: the floors ({repeat}/{repeats})")
                        floors.append(measure_floors(source_uri, warehouse_uri, folder))
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def run_median(label: str) -> float:
        return statistics.median(run["durations"][label] for run in runs)

    def floor_median(key: str) -> float:
        return statistics.median(floor[key] for floor in floors)

    extracted, loaded = runs[0]["extracted"], runs[0]["loaded"]
    extract_s = run_median("extract_sales_data")
    transform_s = run_median("transform_sales_data")
    load_s = run_median("load_tasks.load_detail")
    return {
        "etl.orders": orders,
        "etl.rows_loaded": loaded,
        "etl.repeats": repeats,
        "etl.extract_rows_per_s": extracted / extract_s,
        "etl.transform_rows_per_s": extracted / transform_s,
        "etl.load_rows_per_s": loaded / load_s,
        "etl.extract_floor_rows_per_s": extracted / floor_median("extract_s"),
        "etl.transform_floor_rows_per_s": extracted / floor_median("transform_s"),
        "etl.load_floor_rows_per_s": loaded / floor_median("load_s"),
        "etl.extract_s": extract_s,
        "etl.transform_s": transform_s,
        "etl.load_s": load_s,
        "etl.summary_s": run_median("load_tasks.load_summary"),
        "etl.validate_s": run_median("validate_data"),
        "etl.run_s": statistics.median(run["total_s"] for run in runs),
        "etl.generate_s": generate_s,
        "etl.settled": settled,
    }


def report(figures: dict[str, Any]) -> list[str]:
    """The figures as lines of text."""
    lines = [f"etl: {figures['etl.orders']:,} generated orders, "
             f"{figures['etl.rows_loaded']:,} valid ones loaded into PostgreSQL "
             f"(median of {figures['etl.repeats']} runs)"]
    for phase in ("extract", "transform", "load"):
        measured = figures[f"etl.{phase}_rows_per_s"]
        floor = figures[f"etl.{phase}_floor_rows_per_s"]
        lines.append(f"  {phase:<9} {measured:>12,.0f} rows/s in {figures[f'etl.{phase}_s']:.2f} s"
                     f"   floor {floor:>12,.0f} rows/s   overhead {floor / measured:.1f}x")
    if not figures["etl.settled"]:
        lines.append("  (no CHECKPOINT privilege: a measurement may pay for the writes of the "
                     "one before it)")
    lines.append(f"  summary rebuild {figures['etl.summary_s']:.2f} s, validation "
                 f"{figures['etl.validate_s']:.2f} s, whole run {figures['etl.run_s']:.2f} s "
                 f"(generating the orders: {figures['etl.generate_s']:.1f} s, not counted)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=ORDERS,
                        help=f"how many orders to generate (default {ORDERS:,})")
    parser.add_argument("--repeats", type=int, default=REPEATS,
                        help=f"runs of the pipeline and the floors (default {REPEATS})")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.orders < 1 or args.repeats < 1:
        parser.error("--orders and --repeats must be at least 1")
    figures = bench_etl(args.orders, args.repeats,
                        status=lambda text: print(text, file=sys.stderr))
    if figures is None:
        print(SKIPPED)
        return 0
    print(json.dumps(figures, indent=2) if args.json else "\n".join(report(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
