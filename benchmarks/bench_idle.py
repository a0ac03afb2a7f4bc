"""The idle workload: the memory of a ``millstream standalone`` that has nothing to do.

Usage: python benchmarks/bench_idle.py [--json]

DESIGN's target is "scheduler + webserver resident memory <= 120 MB"; ``standalone`` runs
the scheduler, the web server (a uvicorn thread) and the triggerer (a thread) in one
process, beside the executor's fork server. This starts ``python -m millstream.cli.main
standalone --no-examples`` with ``MILLSTREAM_HOME`` set to a temporary home whose dags
folder is a copy of ``examples/dags`` (so every example is parsed, and, new DAGs starting
paused by default, none runs), waits until the store lists every example DAG and the web
server answers ``/api/v1/health``, lets it settle for ``SETTLE_S`` seconds and reads
``VmRSS`` from ``/proc/<pid>/status`` for standalone and each of its descendants (the
fork server; DAG-parsing workers, when caught between parses).

``idle.rss_mb`` is the *sum* of those VmRSS figures: an upper bound, since the children
share copy-on-write pages with standalone and RSS counts shared pages in every process
that maps them. Standalone alone, the children alone and the proportional set size
(``Pss`` from ``/proc/<pid>/smaps_rollup``, which counts each shared page once) are
reported alongside; ``idle.runs`` (0 when idle indeed) says that nothing ran. Floor: the
VmRSS of a bare ``python -c "import time; time.sleep(5)"``.

Standalone is stopped with SIGTERM (then SIGKILL for its whole process group if it has
not exited after ``STOP_TIMEOUT_S``); any descendant still alive afterwards is killed and
counted in ``idle.leftover_processes``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "dags"
SETTLE_S = 3.0
START_TIMEOUT_S = 90.0
OUTPUT = "standalone.out"
_URL = re.compile(r"^web server on (http://\S+) ", re.MULTILINE)
STOP_TIMEOUT_S = 30.0
SAMPLES = 5
SAMPLE_GAP_S = 0.2
FLOOR_CODE = "import time; time.sleep(5)"
FLOOR_SETTLE_S = 0.5
TARGET_MB = 120.0

Status = Callable[[str], None]


def _quiet(message: str) -> None:
    """The default status callback: say nothing."""


def _status_kb(pid: int, field: str) -> int | None:
    """A ``kB`` field of ``/proc/<pid>/status`` (None once the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


def rss_mb(pid: int) -> float | None:
    """VmRSS of ``pid`` in MB (MiB), or None once the process is gone."""
    kb = _status_kb(pid, "VmRSS")
    return None if kb is None else kb / 1024


def pss_mb(pid: int) -> float | None:
    """Proportional set size of ``pid`` in MB (shared pages divided among their users)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return None


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its end.
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[1]) if fields[0] != "Z" else None  # a zombie holds no memory


def descendants(pid: int) -> list[int]:
    """Live processes below ``pid`` (children, their children, ...), found through /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _parent_of(int(entry))
            if parent is not None:
                parents[int(entry)] = parent
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        children = sorted(p for p, parent in parents.items() if parent == current)
        found.extend(children)
        frontier.extend(children)
    return found


def _alive(pid: int) -> bool:
    return _parent_of(pid) is not None


def floor_rss_mb() -> float:
    """VmRSS of a bare interpreter sleeping, in MB."""
    process = subprocess.Popen([sys.executable, "-c", FLOOR_CODE])
    try:
        time.sleep(FLOOR_SETTLE_S)
        value = rss_mb(process.pid)
        if value is None:
            raise RuntimeError("the bare interpreter ended before its memory was read")
        return value
    finally:
        process.kill()
        process.wait()


def _environment(home: Path) -> dict[str, str]:
    """This environment without any millstream setting; the temporary home, any free port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MILLSTREAM")}
    env["MILLSTREAM_HOME"] = str(home)
    env["MILLSTREAM__WEBSERVER__PORT"] = "0"
    env["COLUMNS"] = "200"
    return env


def _example_dag_count() -> int:
    """How many DAGs the examples define (loaded in this process, once)."""
    from millstream.parsing.dagbag import DagBag

    bag = DagBag(EXAMPLES)
    if bag.import_errors:
        raise RuntimeError(f"the examples do not load here: {bag.import_errors}")
    return len(bag.dags)


class _Store:
    """The standalone's store, read from outside, opened once its database exists."""

    def __init__(self, home: Path) -> None:
        from millstream.config import load_settings

        self.url = load_settings(home=home, environ={}).database.url
        self.store: Any = None

    def _open(self) -> Any:
        from millstream.store.sql.store import SqlStore

        if self.store is None:
            database = Path(self.url.removeprefix("sqlite:///"))
            if self.url.startswith("sqlite:///") and not database.exists():
                return None
            self.store = SqlStore.from_url(self.url)
        return self.store

    def dags(self) -> dict[str, bool]:
        """Stored DAGs and their paused flags (none while the schema is being created)."""
        store = self._open()
        if store is None:
            return {}
        try:
            with store.transaction():
                return {r.dag_id: r.is_paused for r in store.dags.list(active_only=False)}
        except Exception:
            return {}

    def runs(self) -> int:
        store = self._open()
        with store.transaction():
            return len(store.runs.list())

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store.engine.dispose()
            self.store = None


def _stop(process: subprocess.Popen[bytes], known: set[int]) -> int:
    """SIGTERM standalone, then SIGKILL its group if needed; returns leftovers killed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    deadline = time.monotonic() + 5.0
    while any(_alive(pid) for pid in known) and time.monotonic() < deadline:
        time.sleep(0.05)
    leftovers = [pid for pid in known if _alive(pid)]
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # anything else left in its group
    return len(leftovers)


@contextlib.contextmanager
def _home() -> Iterator[Path]:
    """A temporary home whose dags folder is a copy of the examples (helpers and all)."""
    tmp = Path(tempfile.mkdtemp(prefix="millstream-idle-"))
    try:
        shutil.copytree(EXAMPLES, tmp / "dags",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _wait(what: str, check: Callable[[], Any], process: subprocess.Popen[bytes],
          home: Path, timeout_s: float = START_TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if process.poll() is not None:
            raise RuntimeError(_failure(f"standalone exited waiting for {what}", home))
        if time.monotonic() > deadline:
            raise RuntimeError(_failure(f"timed out waiting for {what}", home))
        time.sleep(0.1)


def _web_url(home: Path) -> str | None:
    match = _URL.search((home / OUTPUT).read_text(errors="replace"))
    return match.group(1) if match else None


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/api/v1/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def bench_idle(settle_s: float = SETTLE_S, status: Status = _quiet) -> dict[str, Any]:
    """Memory of an idle standalone (the examples parsed, all paused) against a bare python."""
    status("idle: measuring a bare interpreter")
    floor = floor_rss_mb()
    expected = _example_dag_count()
    with _home() as home:
        status("idle: starting millstream standalone")
        with (home / OUTPUT).open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "millstream.cli.main", "standalone", "--no-examples"],
                env=_environment(home), cwd=home, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        known: set[int] = set()
        store = _Store(home)
        try:
            status(f"idle: waiting for standalone to store the {expected} example DAGs")
            dags = _wait("the example DAGs to be stored",
                         lambda: (found := store.dags()) and len(found) >= expected and found,
                         process, home)
            if not all(dags.values()):
                active = sorted(d for d, paused in dags.items() if not paused)
                raise RuntimeError(f"not idle: DAGs {active} started unpaused")
            url = _wait("the web server's address", lambda: _web_url(home), process, home)
            _wait("the web server to answer", lambda: _answers(url), process, home)
            status(f"idle: letting standalone settle for {settle_s:.0f} s")
            time.sleep(settle_s)
            status("idle: reading resident memory")
            samples: list[tuple[float, list[float], float]] = []
            for _ in range(SAMPLES):
                children = descendants(process.pid)
                known.update(children)
                main_rss = rss_mb(process.pid)
                if main_rss is None or process.poll() is not None:
                    raise RuntimeError(_failure("standalone exited while measured", home))
                each = [rss_mb(pid) or 0.0 for pid in children]
                pss = sum(pss_mb(pid) or 0.0 for pid in (process.pid, *children))
                samples.append((main_rss, each, pss))
                time.sleep(SAMPLE_GAP_S)
            runs = store.runs()
        finally:
            store.close()
            status("idle: stopping standalone")
            known.update(descendants(process.pid))
            leftovers = _stop(process, known)
    # The sample with the most memory in all: the figure is an upper bound.
    main_rss, each, pss = max(samples, key=lambda s: s[0] + sum(s[1]))
    total = main_rss + sum(each)
    return {
        "idle.rss_mb": total,
        "idle.standalone_rss_mb": main_rss,
        "idle.children_rss_mb": sum(each),
        "idle.children": len(each),
        "idle.children_each": " + ".join(f"{mb:.3g}" for mb in each) or "none",
        "idle.pss_mb": pss,
        "idle.dags": len(dags),
        "idle.runs": runs,
        "idle.floor": floor,
        "idle.overhead_ratio": total / floor,
        "idle.leftover_processes": leftovers,
        "idle.exit_code": process.returncode,
    }


def _failure(what: str, home: Path) -> str:
    output = (home / OUTPUT).read_text(errors="replace")[-2000:]
    return f"{what}; its output ends with:\n{output}"


def main(argv: list[str] | None = None) -> int:
    """Run the workload and print its figures (as JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = bench_idle()
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for key, value in figures.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    print(f"target: idle.rss_mb <= {TARGET_MB:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
