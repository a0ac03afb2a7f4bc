"""``millstream worker``'s own errors: each one line naming what is wrong, nothing started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_worker(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MILLSTREAM")}
    environ.update(MILLSTREAM_HOME=str(home), **env)
    return subprocess.run([sys.executable, "-m", "millstream.cli.main", "worker", *args],
                          env=environ, capture_output=True, text=True, timeout=60)


def test_a_worker_refuses_a_database_other_than_postgresql(tmp_path: Path) -> None:
    done = run_worker(tmp_path)
    assert done.returncode == 2
    assert "millstream worker needs a PostgreSQL database (database.url)" in done.stderr
    assert "this one is sqlite" in done.stderr
    assert not (tmp_path / "millstream.db").exists()


def test_a_worker_refuses_an_empty_queue_list_and_a_bad_broker_url(tmp_path: Path) -> None:
    done = run_worker(tmp_path, "--queues", " , ")
    assert done.returncode == 2
    assert "give one or more queue names" in done.stderr
    bad = run_worker(tmp_path, MILLSTREAM__CELERY__BROKER_URL="kafka://broker:9092")
    assert bad.returncode == 2
    assert "celery.broker_url" in bad.stderr and "a broker URL looks like" in bad.stderr
