"""``benchmarks/run.py`` runs and writes its figures; the quick workloads only, no timings.

The full run (through the scheduler, a thousand forked tries, an idle scheduler) takes
too long for the test suite; this checks the command, ``--only`` with several names and
the JSON it writes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "benchmarks" / "run.py"

EXPECTED = {
    "test100.total_s", "test100.floor", "test100.overhead_ratio",
    "import.overhead_ms", "import.floor", "import.overhead_ratio",
}


def test_run_py_writes_the_figures_of_the_chosen_workloads(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(RUN), "--only", "test100", "import", "--json", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=100,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(out.read_text())
    assert set(figures) == EXPECTED
    for key, value in figures.items():
        assert isinstance(value, float) and value > 0, (key, value)
    assert "test100.total_s" in done.stdout and "import.overhead_ms" in done.stdout


def test_run_py_refuses_an_unknown_workload(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(RUN), "--only", "test100", "no_such_workload"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "no_such_workload" in done.stderr


def test_run_py_offers_every_workload() -> None:
    done = subprocess.run([sys.executable, str(RUN), "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    for name in ("chain100", "fan1000", "parse200", "test100", "import", "idle", "browsing"):
        assert name in done.stdout
