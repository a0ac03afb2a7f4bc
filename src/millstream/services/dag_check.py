"""Checking a DAG folder before it ships: what would keep the scheduler from running it.

The files are parsed exactly as the scheduler parses them (worker processes, its timeout
and memory cap), so an import error, a cycle, a hang or a crash shows up here as it
would there. Then each DAG's tasks are held against what the installation has: the
pools they name, and the connection ids they name literally (a templated id is only
known when the task runs). A connection may come from ``MILLSTREAM_CONN_<ID>``, the
secrets file, or the metadata database; pools live in the database.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from millstream.parsing.loader import iter_dag_files, load_dag_file
from millstream.parsing.processor import parse_files

ProblemKind = Literal["import_error", "cycle", "unknown_pool", "missing_connection"]

DEFAULT_POOL = "default_pool"
OPTIONAL_CONNECTIONS = frozenset({"fs_default"})
"""Connection ids a task works without (file sensors use paths as written)."""


@dataclass(frozen=True)
class Problem:
    """One thing that keeps a DAG (or a whole file) from running."""

    kind: ProblemKind
    file: str
    detail: str
    dag_id: str | None = None
    task_id: str | None = None


@dataclass
class FileCheck:
    """One file: the DAGs it defines (none if it failed to load)."""

    path: str
    dag_ids: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class CheckReport:
    """Every file of the folder, and every problem found."""

    folder: str
    files: list[FileCheck] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def dag_count(self) -> int:
        return sum(len(f.dag_ids) for f in self.files)

    def as_json(self) -> dict[str, Any]:
        return {"folder": self.folder, "ok": self.ok, "dags": self.dag_count,
                "files": [asdict(f) for f in self.files],
                "problems": [asdict(p) for p in self.problems]}


@dataclass(frozen=True)
class Installation:
    """What the DAGs are held against: ``pool_exists`` and ``connection_exists``."""

    pool_exists: Callable[[str], bool]
    connection_exists: Callable[[str], bool]


def check_dag_folder(
    folder: str | os.PathLike[str],
    installation: Installation,
    timeout_s: float = 30.0,
    memory_mb: int = 1024,
) -> CheckReport:
    """Parse every DAG file under ``folder`` as the scheduler would and report problems."""
    root = Path(folder).expanduser().resolve()
    report = CheckReport(str(root))
    paths = [root] if root.is_file() else list(iter_dag_files(root))
    parsed = parse_files(paths, timeout_s=timeout_s, memory_mb=memory_mb)
    owners: dict[str, str] = {}  # dag_id -> the file that defines it
    for path, result in parsed.files.items():
        checked = FileCheck(path, dag_ids=[str(d["dag_id"]) for d in result.dags])
        report.files.append(checked)
        error = result.error
        if error is not None:
            checked.error = error.summary
            cycle = "DagCycleError" in error.message or "has a cycle" in error.message
            where = f"line {error.lineno}: " if error.lineno else ""
            report.problems.append(Problem("cycle" if cycle else "import_error", path,
                                           f"{where}{error.error}"))
            continue
        clashes = [(dag_id, owners[dag_id]) for dag_id in checked.dag_ids if dag_id in owners]
        if clashes:  # as the scheduler does: the file that had the dag_id first keeps it
            for dag_id, other in clashes:
                report.problems.append(Problem(
                    "import_error", path,
                    f"DuplicateDagId: dag_id {dag_id!r} is already defined in {other}", dag_id))
            continue
        owners.update(dict.fromkeys(checked.dag_ids, path))
        for dag in result.dags:
            report.problems.extend(_pool_problems(path, dag, installation))
        if result.dags:
            report.problems.extend(_connection_problems(path, installation))
    return report


def _pool_problems(path: str, dag: dict[str, Any], installation: Installation) -> list[Problem]:
    found: list[Problem] = []
    known: dict[str, bool] = {}
    for task in dag.get("tasks", []):
        pool = task.get("pool") or DEFAULT_POOL
        if pool not in known:
            known[pool] = pool == DEFAULT_POOL or installation.pool_exists(pool)
        if not known[pool]:
            found.append(Problem("unknown_pool", path, f"pool {pool!r} does not exist",
                                 str(dag["dag_id"]), str(task["task_id"])))
    return found


def _connection_problems(path: str, installation: Installation) -> list[Problem]:
    """Missing connections named literally by the file's tasks; the file is imported in
    this process (it already loaded within the scheduler's limits in a worker)."""
    try:
        dags = load_dag_file(path)
    except Exception as exc:  # it loaded in the worker; here it is not the file's fault
        return [Problem("import_error", path, f"could not be loaded again to read its "
                                              f"connection ids: {exc}")]
    found: list[Problem] = []
    for dag_id, dag in sorted(dags.items()):
        for task in dag.tasks:
            for conn_id in sorted(set(literal_connection_ids(task))):
                if conn_id in OPTIONAL_CONNECTIONS or installation.connection_exists(conn_id):
                    continue
                found.append(Problem(
                    "missing_connection", path,
                    f"connection {conn_id!r} is not defined (environment, secrets file or "
                    f"database)", dag_id, task.task_id))
    return found


def literal_connection_ids(task: object) -> Iterable[str]:
    """The connection ids a task names as plain strings: attributes (or, for a mapped
    task, arguments) whose name ends in ``conn_id``; templated ones are left out."""
    values: dict[str, Any] = dict(vars(task))
    partial = values.get("partial_kwargs")
    if isinstance(partial, dict):
        values.update(partial)
    for name, value in values.items():
        if (name == "conn_id" or name.endswith("_conn_id")) and isinstance(value, str) and (
            value and "{{" not in value and "{%" not in value
        ):
            yield value
