"""``benchmarks/bench_etl.py`` runs the ETL example and prints its figures, or says it skipped.

A small run only (the real workload is a million orders); no timings are asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.integration.hooks.pg import postgres_url

ROOT = Path(__file__).resolve().parents[3]
BENCH = ROOT / "benchmarks" / "bench_etl.py"
RUN = ROOT / "benchmarks" / "run.py"


def environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MILLSTREAM")}
    env.update(extra)
    return env


def test_bench_etl_measures_each_phase_and_its_floor(tmp_path: Path) -> None:
    import psycopg

    url = postgres_url()
    proc = subprocess.Popen(
        [sys.executable, str(BENCH), "--orders", "3000", "--repeats", "2", "--json"],
        env=environ(MILLSTREAM_BENCH_POSTGRES_URL=url), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    figures = json.loads(out)
    assert figures["etl.orders"] == 3000 and figures["etl.repeats"] == 2
    assert 2900 < figures["etl.rows_loaded"] < 3000  # about 1% invalid orders dropped
    for phase in ("extract", "transform", "load"):
        assert figures[f"etl.{phase}_rows_per_s"] > 0
        assert figures[f"etl.{phase}_floor_rows_per_s"] > 0
    # Its schemas (named after its process id) are gone.
    with psycopg.connect(url) as conn:
        left = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
                            (f"millstream_bench_%_{proc.pid}_%",)).fetchall()
    assert left == []


def test_without_a_server_it_says_it_skipped(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(BENCH)], env=environ(), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("etl: skipped the PostgreSQL throughput figures")

    listed = subprocess.run([sys.executable, str(RUN), "--only", "etl", "--json",
                             str(tmp_path / "figures.json")], env=environ(), cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "etl: skipped the PostgreSQL throughput figures" in listed.stdout
    assert json.loads((tmp_path / "figures.json").read_text()) == {}
