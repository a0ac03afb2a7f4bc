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

import contextlib
import faulthandler
import hashlib
import importlib
import io
import json
import multiprocessing
import os
import re
import signal
import sys
import sysconfig
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from types import ModuleType
from typing import IO, Any, Literal

from millstream.parsing.limits import cap_memory, die_with_parent
from millstream.parsing.loader import DagImportError, load_dag_file
from millstream.parsing.serialize import serialize_dag

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MEMORY_MB = 1024
DEFAULT_WORKERS = 2
MAX_OUTPUT_CHARS = 20_000
"""How much of what a file prints while it imports is kept (the end of it)."""

_PRELOAD = (
    "millstream",
    "millstream.operators.empty",
    "millstream.operators.python",
    "millstream.operators.bash",
)


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
        self._workers: list[_Worker] = []

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
    ) -> ParseReport:
        """Parse the files that changed since ``previous``; see :func:`parse_files`."""
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
            self._run(pending, fingerprints, results)
        return ParseReport(results, time.perf_counter() - started)

    def _run(
        self,
        pending: deque[str],
        fingerprints: dict[str, FileFingerprint],
        results: dict[str, FileResult],
    ) -> None:
        _preload()
        retried: set[str] = set()
        wanted = min(self.max_workers, len(pending))
        while pending or any(w.path for w in self._workers):
            self._workers = [w for w in self._workers if w.usable]
            while pending and len(self._workers) < wanted:
                self._workers.append(_Worker.start(self.memory_mb, self._workers))
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
                    else:
                        results[path] = _from_reply(reply, fingerprint, elapsed)
                elif elapsed >= self.timeout_s:
                    worker.kill()
                    message = f"TimeoutError: the DAG file timed out after {self.timeout_s:g} s"
                    results[path] = _failed(path, fingerprint, message, elapsed)


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


_preloaded = False


def _preload() -> None:
    """Import what most DAG files import, once, so every forked worker starts with it.

    Also sorts this process's modules into installed code and user code now, so that
    workers inherit the answers instead of each working them out again.
    """
    global _preloaded
    if not _preloaded:
        for name in _PRELOAD:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        _preloaded = True
    _installed_modules.user_modules()


class _Worker:
    """The parent's handle on one worker process: its pipe and the file it is parsing."""

    def __init__(
        self, process: multiprocessing.process.BaseProcess, conn: Connection, crash_log: IO[bytes]
    ) -> None:
        self.process = process
        self.conn = conn
        self.crash_log = crash_log
        self.path: str | None = None
        self.started = 0.0
        self.files_done = 0
        self.retiring = False
        self.dead = False
        self.exitcode: int | None = None
        self.crash = ""

    @classmethod
    def start(cls, memory_mb: int, siblings: list[_Worker]) -> _Worker:
        """Fork a worker; it closes its copies of the parent's pipe ends, so that closing
        one in the parent really reaches that worker as end-of-file."""
        context = multiprocessing.get_context("fork")
        parent_end, child_end = context.Pipe(duplex=True)
        not_its_own = [parent_end, *(w.conn for w in siblings if not w.conn.closed)]
        # Lives as long as the worker; kill() closes it.
        crash_log = tempfile.TemporaryFile(prefix="millstream-parser-")  # noqa: SIM115
        process = context.Process(
            target=_worker_main, args=(child_end, memory_mb, not_its_own, crash_log),
            name="millstream-dag-parser", daemon=True,
        )
        process.start()
        child_end.close()
        if process.pid is not None:
            with contextlib.suppress(OSError):  # the child does the same; whoever is first
                os.setpgid(process.pid, process.pid)
        return cls(process, parent_end, crash_log)

    @property
    def usable(self) -> bool:
        """Alive and willing to take another file."""
        if self.dead or self.retiring or not self.process.is_alive():
            if not self.dead:
                self.kill()
            return False
        return True

    def send(self, path: str) -> None:
        self.path = path
        self.started = time.monotonic()
        self.files_done += 1
        with contextlib.suppress(OSError):  # it died: its sentinel says so on the next wait
            self.conn.send_bytes(json.dumps({"path": path}).encode())

    def receive(self) -> dict[str, Any] | None:
        """The worker's reply, or None if it died before sending one."""
        try:
            reply: dict[str, Any] = json.loads(self.conn.recv_bytes())
        except (EOFError, OSError):
            self.process.join(timeout=1.0)
            self.crash = self._crash_report()
            self.kill()
            return None
        self.path = None
        self.retiring = bool(reply.get("retire"))
        return reply

    def death_message(self, path: str) -> tuple[str, int | None]:
        """Why the worker died while parsing ``path``, and the file's line if the crash
        left a Python traceback."""
        code = self.exitcode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            message = (f"ProcessDied: the parsing process was killed by {name} while importing "
                       "the DAG file (a crash in native code, or a kill from outside)")
        else:
            message = (f"ProcessExit: the DAG file ended the parsing process (exit code {code}), "
                       "e.g. by calling os._exit()")
        crash = self.crash
        lineno = None
        pattern = rf'File "{re.escape(path)}", line (\d+)'
        match = re.search(pattern, crash)  # faulthandler lists the innermost frame first
        if match:
            lineno = int(match.group(1))
        return (f"{message}\n\n{crash}" if crash else message), lineno

    def _crash_report(self) -> str:
        """What faulthandler wrote when the worker crashed (a Python traceback), if anything."""
        try:
            self.crash_log.seek(0)
            return self.crash_log.read(MAX_OUTPUT_CHARS).decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""

    def kill(self) -> None:
        """Kill the worker and anything the DAG file started in its process group."""
        self.dead = True
        self.path = None
        pid = self.process.pid
        if pid is not None and self.process.exitcode is None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                with contextlib.suppress(OSError):
                    self.process.kill()
        self.process.join(timeout=5.0)
        self.exitcode = self.process.exitcode
        self.conn.close()
        self.crash_log.close()
        with contextlib.suppress(ValueError):  # still running only if the kill failed
            self.process.close()


# --- in the worker process ----------------------------------------------------------------


def _worker_main(
    conn: Connection, memory_mb: int, not_its_own: list[Connection], crash_log: IO[bytes]
) -> None:
    """Parse the files the parent sends, one at a time, until the pipe closes."""
    for other in not_its_own:
        other.close()
    # A fatal crash (segfault, abort) writes the Python traceback where the parent reads it.
    faulthandler.enable(file=crash_log, all_threads=False)
    die_with_parent()
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)  # its own group: a kill also reaches what the DAG file started
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    cap_memory(memory_mb)
    state = _CleanState()
    while True:
        try:
            request = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        reply = _parse_one(request["path"], memory_mb)
        state.restore()
        conn.send_bytes(json.dumps(reply).encode())
        if reply.get("retire"):
            return


def _parse_one(path: str, memory_mb: int) -> dict[str, Any]:
    """Import one file and serialize its DAGs; every failure becomes a JSON import error."""
    captured = io.StringIO()
    reply: dict[str, Any] = {"path": path}
    try:
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            dags = load_dag_file(path)
            serialized = [serialize_dag(dags[dag_id]) for dag_id in sorted(dags)]
            json.dumps(serialized)  # fail here, as this file's error, if it is not JSON
        reply["dags"] = serialized
    except DagImportError as exc:
        reply["error"] = _error(exc.path, exc.lineno, exc.message, exc.error)
        if isinstance(exc.__cause__, MemoryError):
            _mark_memory(reply, memory_mb)
    except MemoryError:
        reply["error"] = _error(path, None, traceback.format_exc(), "MemoryError")
        _mark_memory(reply, memory_mb)
    except Exception as exc:
        reply["error"] = _error(path, _deepest_line(exc, path), traceback.format_exc(),
                                f"{type(exc).__name__}: {exc}".splitlines()[0])
    reply["output"] = captured.getvalue()[-MAX_OUTPUT_CHARS:]
    return reply


def _error(filename: str, lineno: int | None, message: str, error: str) -> dict[str, Any]:
    return {"filename": filename, "lineno": lineno, "message": message, "error": error}


def _mark_memory(reply: dict[str, Any], memory_mb: int) -> None:
    error = reply["error"]
    error["error"] = f"MemoryError: the DAG file exceeded {memory_mb} MB of memory"
    error["message"] = f"{error['message'].rstrip()}\n\n{error['error']}\n"
    reply["memory"] = True
    reply["retire"] = True  # a fresh worker for the next file, not one that just ran out


def _deepest_line(exc: BaseException, path: str) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == path:
            line = lineno
    return line


class _InstalledModules:
    """Which imported modules come from the Python installation or millstream itself.

    Everything else (the DAG module, helper packages such as ``dags/common``) is user code
    that a worker forgets after each file, so the next file, or the same file after an
    edit, imports it afresh, while installed libraries stay imported. The answers are
    cached by module identity; the parent warms the cache before forking workers.
    """

    def __init__(self) -> None:
        names = ("stdlib", "platstdlib", "purelib", "platlib")
        paths = sysconfig.get_paths()
        roots = {os.path.realpath(paths[n]) for n in names if n in paths}
        roots.add(os.path.realpath(os.path.dirname(os.path.dirname(__file__))))
        self.roots = tuple(root + os.sep for root in roots)
        self.kept: dict[str, int] = {}

    def user_modules(self) -> list[str]:
        """Names in ``sys.modules`` of modules that are not installed code."""
        found = []
        for name, module in list(sys.modules.items()):
            if self.kept.get(name) == id(module):
                continue
            if name.startswith("__") or self._installed(module):
                self.kept[name] = id(module)
            else:
                found.append(name)
        return found

    def _installed(self, module: ModuleType | None) -> bool:
        location = getattr(module, "__file__", None)
        if location is None:
            search = list(getattr(module, "__path__", None) or [])
            if not search:
                return True  # built-in, frozen, or a stand-in object
            location = search[0]
        return os.path.realpath(location).startswith(self.roots)


_installed_modules = _InstalledModules()


class _CleanState:
    """What a DAG file may change in its worker, put back after each file: ``sys.path``,
    the working folder, the environment, and the user modules it imported."""

    def __init__(self) -> None:
        self.path = list(sys.path)
        self.cwd = os.getcwd()
        self.environ = dict(os.environ)
        self.forget_user_modules()  # also those the parent had imported before the fork

    def restore(self) -> None:
        """Undo the last file's changes."""
        sys.path[:] = self.path
        if os.getcwd() != self.cwd:
            os.chdir(self.cwd)
        if os.environ != self.environ:
            os.environ.clear()
            os.environ.update(self.environ)
        self.forget_user_modules()

    @staticmethod
    def forget_user_modules() -> None:
        for name in _installed_modules.user_modules():
            sys.modules.pop(name, None)


__all__ = [
    "DagFileProcessor",
    "FileFingerprint",
    "FileImportError",
    "FileResult",
    "ParseReport",
    "parse_files",
]
