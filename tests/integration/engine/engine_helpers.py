"""What the engine's end-to-end tests share: a millstream home, its processes, polling, /proc.

Processes started through a :class:`Home` run in sessions of their own and are killed,
with everything they started, when the test ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
from sqlalchemy import text
from tests.autocommit import autocommit

from millstream.config import Settings, load_settings
from millstream.model.states import FINISHED_RUN_STATES
from millstream.services import trigger
from millstream.store.records import DagRunRecord, TaskInstanceRecord
from millstream.store.sql import SqlStore, make_engine

T = TypeVar("T")


# -- waiting ----------------------------------------------------------------------------------
def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    what: str,
    detail: Callable[[], str] | None = None,
    interval: float = 0.05,
) -> T:
    """Poll until ``predicate()`` is truthy and return it; fail naming ``what`` at the deadline.

    The deadline is for liveness only (something that never happens), never a measure.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = f"\n{detail()}" if detail is not None else ""
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}{extra}")
        time.sleep(interval)


# -- databases -------------------------------------------------------------------------------
def postgres_schema_url(base: str, purpose: str) -> Iterator[str]:
    """Yield a URL of ``base`` whose connections see only a new schema (dropped after).

    Every process given the URL, subprocesses included, works in that schema alone
    (``options=-csearch_path=...``), so tests on one server never see each other's rows.
    """
    schema = f"millstream_{purpose}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}', safe='')}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


# -- processes, seen through /proc ------------------------------------------------------------
def proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, pgid, session id) of a process, or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3])



def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def alive(pid: int) -> bool:
    """Whether the process exists and has not ended (a zombie waiting to be reaped has)."""
    stat = proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` in the parent tree."""
    children: dict[int, list[int]] = {}
    for other in all_pids():
        stat = proc_stat(other)
        if stat is not None and stat[0] not in ("Z", "X"):
            children.setdefault(stat[1], []).append(other)
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def in_session(sid: int) -> set[int]:
    """Every living process of the session ``sid``."""
    found: set[int] = set()
    for other in all_pids():
        stat = proc_stat(other)
        if stat is not None and stat[0] not in ("Z", "X") and stat[3] == sid:
            found.add(other)
    return found


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass
class Proc:
    """A millstream command running as a subprocess, its output going to a file."""

    popen: subprocess.Popen[bytes]
    output_path: Path
    argv: list[str]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        try:
            return self.output_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 60) -> str:
        return f"--- output of {' '.join(self.argv)} ---\n" + "\n".join(
            self.output().splitlines()[-lines:]
        )


# -- a home -----------------------------------------------------------------------------------
@dataclass
class Home:
    """A millstream home over one database, with helpers to configure and observe it."""

    path: Path
    database_url: str
    scratch: Path
    settings_env: dict[str, str] = field(default_factory=dict)
    _stores: list[SqlStore] = field(default_factory=list)
    _procs: list[Proc] = field(default_factory=list)

    @property
    def dags(self) -> Path:
        return self.path / "dags"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    def set(self, **values: Any) -> None:
        """Settings for every later ``settings()`` and process: ``scheduler__parallelism=4``."""
        for name, value in values.items():
            section, key = name.split("__")
            self.settings_env[f"MILLSTREAM__{section.upper()}__{key.upper()}"] = str(value)

    def environ(self) -> dict[str, str]:
        """The millstream part of the environment of this home's processes.

        The tests' DAGs are scheduled as soon as they are parsed: new DAGs start unpaused
        unless a test sets ``core__dags_are_paused_at_creation`` itself.
        """
        return {"MILLSTREAM__DATABASE__URL": self.database_url,
                "MILLSTREAM__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false", **self.settings_env}

    def settings(self) -> Settings:
        return load_settings(self.path, self.environ())

    def write_dag(self, name: str, source: str) -> Path:
        """Write a DAG file into the dags folder (the source is dedented)."""
        self.dags.mkdir(parents=True, exist_ok=True)
        path = self.dags / name
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
        return path

    def store(self) -> SqlStore:
        """A store of this home's database for the test to look at (closed at the end)."""
        store = autocommit(SqlStore(make_engine(self.database_url)))
        self._stores.append(store)
        return store  # type: ignore[no-any-return]

    # -- processes ----------------------------------------------------------------------------
    def process_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MILLSTREAM")}
        env.update(self.environ())
        env["MILLSTREAM_HOME"] = str(self.path)
        env["PYTHONUNBUFFERED"] = "1"
        env["COLUMNS"] = "200"
        # standalone serves the web UI too: on any free port, so that tests never collide.
        env.setdefault("MILLSTREAM__WEBSERVER__PORT", "0")
        return env

    def start(self, *args: str) -> Proc:
        """Start ``millstream ARGS`` as a subprocess in a session of its own."""
        argv = [sys.executable, "-m", "millstream.cli.main", *args]
        out = self.scratch / f"{args[0]}-{len(self._procs) + 1}.out"
        with out.open("wb") as sink:
            popen = subprocess.Popen(
                argv, env=self.process_env(), stdout=sink, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.scratch,
            )
        proc = Proc(popen, out, argv)
        self._procs.append(proc)
        return proc

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``millstream ARGS`` to its end; a non-zero exit fails the test."""
        result = subprocess.run(
            [sys.executable, "-m", "millstream.cli.main", *args], env=self.process_env(),
            capture_output=True, text=True, timeout=timeout, cwd=self.scratch,
        )
        if result.returncode != 0:
            pytest.fail(f"millstream {' '.join(args)} exited {result.returncode}:\n"
                        f"{result.stdout}\n{result.stderr}")
        return result

    def close(self) -> None:
        for proc in self._procs:
            left = descendants(proc.pid) if proc.popen.poll() is None else set()
            kill_group(proc.pid)
            for pid in left:
                stat = proc_stat(pid)
                if stat is not None:
                    kill_group(stat[2])
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=10)
        for store in self._stores:
            store.close()
            store.engine.dispose()

    # -- observing ----------------------------------------------------------------------------
    def run(self, dag_id: str, run_id: str) -> DagRunRecord | None:
        return self._observer().runs.get(dag_id, run_id)

    def runs(self, dag_id: str) -> list[DagRunRecord]:
        return self._observer().runs.list(dag_id)

    def instances(self, dag_id: str, run_id: str) -> dict[str, TaskInstanceRecord]:
        """The run's task instances by label (``task`` or ``task[i]``)."""
        return {ti.label: ti
                for ti in self._observer().task_instances.for_run(dag_id, run_id)}

    def instance(self, dag_id: str, run_id: str, label: str) -> TaskInstanceRecord:
        found = self.instances(dag_id, run_id).get(label)
        assert found is not None, f"run {run_id} of {dag_id} has no task instance {label}"
        return found

    def parsed(self, dag_id: str) -> bool:
        """Whether a scheduler has stored the DAG's structure."""
        record = self._observer().dags.get(dag_id)
        return record is not None and record.latest_version is not None

    def trigger(self, dag_id: str) -> str:
        """Queue a manual run as ``millstream dags trigger`` does, by writing to the store
        (without the cost of a process); returns the new run's id."""
        store = self._observer()
        return trigger.trigger_run(store.raw, dag_id, who="engine-tests",
                                   now=datetime.now(UTC)).run_id

    def trigger_with_cli(self, dag_id: str) -> str:
        """``millstream dags trigger DAG_ID``; returns the new run's id."""
        return self.cli("dags", "trigger", dag_id).stdout.strip().splitlines()[-1]

    def finished_run(self, dag_id: str, run_id: str) -> DagRunRecord | None:
        run = self.run(dag_id, run_id)
        return run if run is not None and run.state in FINISHED_RUN_STATES else None

    def describe(self, dag_id: str) -> str:
        """The DAG's runs and task states, for failure messages."""
        lines = []
        for run in self.runs(dag_id):
            states = ", ".join(f"{label}={ti.state.value}/{ti.try_number}"
                               for label, ti in self.instances(dag_id, run.run_id).items())
            lines.append(f"{run.run_id}: {run.state.value} [{states}]")
        return "\n".join(lines) or f"no runs of {dag_id}"

    def _observer(self) -> SqlStore:
        if not self._stores:
            self.store()
        return self._stores[0]


def run_job(job: Any, predicate: Callable[[], object], timeout: float, what: str,
            detail: Callable[[], str] | None = None) -> None:
    """Run a scheduler job in this process until ``predicate()`` holds (or fail at the deadline).

    ``predicate`` is called between the job's steps, so it may also act (kill a process).
    """
    deadline = time.monotonic() + timeout
    job.run(until=lambda: bool(predicate()) or time.monotonic() > deadline)
    if not predicate():
        extra = f"\n{detail()}" if detail is not None else ""
        pytest.fail(f"timed out after {timeout:g} s waiting for {what}{extra}")
