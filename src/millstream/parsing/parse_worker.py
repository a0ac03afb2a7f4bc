"""A parsing worker: the child process that imports one DAG file at a time, capped in time
and memory, and sends back its serialized DAGs or its import error as JSON.

:class:`~millstream.parsing.processor.DagFileProcessor` starts and feeds these workers; a
worker forgets each file's modules and restores ``sys.path``, the environment and the working
folder afterwards, so each file parses as if it were alone.
"""

from __future__ import annotations

import contextlib
import faulthandler
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
from multiprocessing.connection import Connection
from types import ModuleType
from typing import IO, Any

from millstream.parsing.limits import (
    adopt_orphaned_descendants,
    cap_memory,
    die_with_parent,
    end_descendants,
)
from millstream.parsing.loader import DagImportError, load_dag_file
from millstream.parsing.serialize import serialize_dag

MAX_OUTPUT_CHARS = 20_000
"""How much of what a file prints while it imports is kept (the end of it)."""

_PRELOAD = (
    "millstream",
    "millstream.operators.empty",
    "millstream.operators.python",
    "millstream.operators.bash",
)


_preloaded = False


def preload() -> None:
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


class ParseWorker:
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
    def start(cls, memory_mb: int, siblings: list[ParseWorker]) -> ParseWorker:
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
    """Parse the files the parent sends, one at a time, until the pipe closes.

    Only this process ever answers on ``conn``: a process the DAG file forks at import
    (directly, or through a library) comes back out of the import as a copy of the worker,
    and exits there instead of answering for it. Whatever the file left running (a child,
    or a daemon that left the worker's process group with ``setsid``) is killed once the
    file is done: the worker adopts orphaned descendants so that it can find them.
    """
    owner = os.getpid()
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
    adopt_orphaned_descendants()
    state = _CleanState()
    while True:
        try:
            request = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        try:
            reply = _parse_one(request["path"], memory_mb)
        finally:
            if os.getpid() != owner:
                os._exit(0)  # a fork made by the DAG file: never answer for the worker
        end_descendants()
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
