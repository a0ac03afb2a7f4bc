"""Parsing DAG files in child processes, so a bad file can hang, crash or eat memory safely.

A small pool of warm workers (forked from this process, so millstream is already
imported) parses one file at a time each and sends back only JSON: the file's serialized
DAGs (:func:`~millstream.parsing.serialize.serialize_dag`) or its import error. A file
that runs past its timeout gets its worker killed; a file that allocates past its memory
cap (``RLIMIT_AS`` in the worker) gets a ``MemoryError``; a file that exits or crashes
the interpreter ends its worker. Each of these becomes an import error for that file
only: the caller never dies, and a fresh worker takes the next file.

Files whose fingerprint (mtime, size and sha256) matches the previous parse are not
parsed again. A worker forgets the modules of the previous file (the DAG module and the
helper modules beside it), restores ``sys.path``, the environment and the working
folder, so each file parses as if it were alone.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Literal

from millstream.parsing.parse_worker import ParseWorker, preload

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MEMORY_MB = 1024
DEFAULT_WORKERS = 2


@dataclass(frozen=True)
class FileFingerprint:
    """What identifies one version of a file: a file with the same three is not re-parsed."""

    mtime_ns: int
    size: int
    sha256: str

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> FileFingerprint:
        """The fingerprint of the file at ``path`` as it is now (raises OSError if unreadable)."""
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            digest = hashlib.sha256(handle.read()).hexdigest()
        return cls(stat.st_mtime_ns, stat.st_size, digest)


@dataclass(frozen=True)
class FileImportError:
    """Why a file gave no DAGs: ``message`` is the traceback text, ``error`` one line of it."""

    filename: str
    lineno: int | None
    message: str
    error: str

    @property
    def summary(self) -> str:
        """``file, line N: error`` on a single line."""
        where = f"{self.filename}, line {self.lineno}" if self.lineno else self.filename
        return f"{where}: {self.error}"


@dataclass
class FileResult:
    """The outcome for one file: its serialized DAGs, its import error, or 'unchanged'."""

    path: str
    status: Literal["parsed", "error", "unchanged"]
    fingerprint: FileFingerprint | None
    dags: list[dict[str, Any]] = field(default_factory=list)
    error: FileImportError | None = None
    duration_s: float = 0.0
    output: str = ""
    """What the file printed while it was imported (stdout and stderr, the last part)."""


@dataclass
class ParseReport:
    """The outcome of one :func:`parse_files` call, one :class:`FileResult` per file."""

    files: dict[str, FileResult]
    duration_s: float

    @property
    def dags(self) -> list[dict[str, Any]]:
        """The serialized DAGs of every file parsed this time, in file order."""
        return [dag for result in self.files.values() for dag in result.dags]

    @property
    def import_errors(self) -> dict[str, FileImportError]:
        """Import errors of the files parsed this time, by path."""
        return {p: r.error for p, r in self.files.items() if r.error is not None}

    @property
    def unchanged(self) -> list[str]:
        """Files skipped because they did not change since the previous parse."""
        return [p for p, r in self.files.items() if r.status == "unchanged"]

    @property
    def fingerprints(self) -> dict[str, FileFingerprint]:
        """Every file's fingerprint: pass it as ``previous`` to the next parse."""
        return {p: r.fingerprint for p, r in self.files.items() if r.fingerprint is not None}


def parse_files(
    paths: Iterable[str | os.PathLike[str]],
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
    previous: Mapping[str, FileFingerprint] | None = None,
    max_workers: int = DEFAULT_WORKERS,
) -> ParseReport:
    """Parse each DAG file in a worker process and report its DAGs or its import error.

    ``timeout_s`` and ``memory_mb`` bound each file (memory beyond what the worker uses
    when it starts). A file whose fingerprint equals its entry in ``previous`` is
    reported as unchanged and not parsed. The workers are gone when this returns; keep a
    :class:`DagFileProcessor` to reuse them across calls.
    """
    with DagFileProcessor(timeout_s, memory_mb, max_workers) as processor:
        return processor.parse(paths, previous)


def _key(path: str | os.PathLike[str]) -> str:
    return str(Path(path).expanduser().resolve())


class DagFileProcessor:
    """A pool of up to ``max_workers`` warm parsing processes, restarted only when they die.

    Use it as a context manager, or call :meth:`close`, so no worker outlives it.
    """

    def __init__(
        self,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_mb: int = DEFAULT_MEMORY_MB,
        max_workers: int = DEFAULT_WORKERS,
    ) -> None:
        if timeout_s <= 0 or memory_mb <= 0 or max_workers < 1:
            raise ValueError("timeout_s and memory_mb must be positive, max_workers at least 1")
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.max_workers = max_workers
        self._workers: list[ParseWorker] = []

    def __enter__(self) -> DagFileProcessor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker: idle ones are asked to exit, stragglers are killed."""
        workers = [w for w in self._workers if not w.dead]
        self._workers = []
        for worker in workers:
            worker.conn.close()
        for worker in workers:
            worker.process.join(timeout=1.0)
            worker.kill()  # only signals a worker that is still there

    def parse(
        self,
        paths: Iterable[str | os.PathLike[str]],
        previous: Mapping[str, FileFingerprint] | None = None,
        on_result: Callable[[FileResult], None] | None = None,
    ) -> ParseReport:
        """Parse the files that changed since ``previous``; see :func:`parse_files`.

        ``on_result`` is called with each parsed file's result as soon as it is known, in
        the order files finish, so that a slow or hanging file holds back no other file's
        DAGs; unchanged files are not reported to it."""
        started = time.perf_counter()
        before = {_key(p): fp for p, fp in (previous or {}).items()}
        results: dict[str, FileResult] = {}
        fingerprints: dict[str, FileFingerprint] = {}
        pending: deque[str] = deque()
        for raw in paths:
            path = _key(raw)
            if path in results or path in fingerprints:
                continue
            try:
                fingerprint = FileFingerprint.of(path)
            except OSError as exc:
                results[path] = _failed(path, None, f"cannot read the file: {exc}", 0.0)
                continue
            if before.get(path) == fingerprint:
                results[path] = FileResult(path, "unchanged", fingerprint)
            else:
                fingerprints[path] = fingerprint
                results[path] = FileResult(path, "parsed", fingerprint)  # replaced below
                pending.append(path)
        if pending:
            self._run(pending, fingerprints, results, on_result or _ignore)
        return ParseReport(results, time.perf_counter() - started)

    def _run(
        self,
        pending: deque[str],
        fingerprints: dict[str, FileFingerprint],
        results: dict[str, FileResult],
        on_result: Callable[[FileResult], None],
    ) -> None:
        preload()
        retried: set[str] = set()
        wanted = min(self.max_workers, len(pending))
        while pending or any(w.path for w in self._workers):
            self._workers = [w for w in self._workers if w.usable]
            while pending and len(self._workers) < wanted:
                self._workers.append(ParseWorker.start(self.memory_mb, self._workers))
            for worker in self._workers:
                if worker.path is None and pending:
                    worker.send(pending.popleft())
            busy = [w for w in self._workers if w.path is not None]
            deadline = min(w.started + self.timeout_s for w in busy)
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy],
                             timeout=max(0.0, deadline - time.monotonic())))
            for worker in busy:
                path = worker.path
                assert path is not None
                elapsed = time.monotonic() - worker.started
                fingerprint = fingerprints[path]
                if worker.conn in ready or worker.process.sentinel in ready:
                    reply = worker.receive()
                    if reply is None:
                        message, lineno = worker.death_message(path)
                        results[path] = _failed(path, fingerprint, message, elapsed, lineno)
                    elif reply.get("memory") and worker.files_done > 1 and path not in retried:
                        # A long-lived worker may have grown: give the file a fresh one.
                        retried.add(path)
                        pending.appendleft(path)
                        continue
                    else:
                        results[path] = _from_reply(reply, fingerprint, elapsed)
                    on_result(results[path])
                elif elapsed >= self.timeout_s:
                    worker.kill()
                    message = f"TimeoutError: the DAG file timed out after {self.timeout_s:g} s"
                    results[path] = _failed(path, fingerprint, message, elapsed)
                    on_result(results[path])


def _ignore(result: FileResult) -> None:
    return None


def _failed(
    path: str,
    fingerprint: FileFingerprint | None,
    message: str,
    elapsed: float,
    lineno: int | None = None,
) -> FileResult:
    error = FileImportError(path, lineno, message, message.splitlines()[0])
    return FileResult(path, "error", fingerprint, error=error, duration_s=elapsed)


def _from_reply(reply: dict[str, Any], fingerprint: FileFingerprint, elapsed: float) -> FileResult:
    path = reply["path"]
    output = reply.get("output", "")
    if reply.get("error"):
        error = FileImportError(**reply["error"])
        return FileResult(path, "error", fingerprint, error=error, duration_s=elapsed,
                          output=output)
    return FileResult(path, "parsed", fingerprint, dags=reply["dags"], duration_s=elapsed,
                      output=output)


__all__ = [
    "DagFileProcessor",
    "FileFingerprint",
    "FileImportError",
    "FileResult",
    "ParseReport",
    "parse_files",
]
