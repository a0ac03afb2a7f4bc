"""One task try in a worker process of its own: its log file, XCom reader, run and result file.

Files of a try, under the executor's log folder::

    <log_folder>/<dag_id>/<run_id>/<task_id>/<try_number>.log
    <log_folder>/<dag_id>/<run_id>/<task_id>/<try_number>.result.json
    <log_folder>/<dag_id>/<run_id>/<task_id>/<try_number>.metrics.json  (while it runs)
    <log_folder>/<dag_id>/<run_id>/<task_id>/map_index=<i>/<try_number>.log   (mapped)

Each id is one path component, percent-encoded so that any run id is safe and the
mapping stays reversible: letters, digits, ``-``, ``_`` and ``.`` are kept, everything
else (``/``, ``:``, ``+``, spaces, ``%`` ...) becomes ``%XX`` of its UTF-8 bytes, and a
leading dot is encoded too (no hidden files, no ``..``). For example run id
``scheduled__2026-01-01T00:00:00+00:00`` is stored as
``scheduled__2026-01-01T00%3A00%3A00%2B00%3A00``.

The ``.log`` file receives everything the try writes: ``print`` output and anything a
subprocess writes to stdout or stderr (file descriptors 1 and 2 point at it), the
records of every logger (the root logger's handlers are replaced in the try process),
and the Python traceback of a crash in native code (faulthandler).
The ``.result.json`` file holds the try's :class:`TaskFinishedEvent` as JSON
(see :mod:`millstream.runtime.events_json`); it is written to a temporary name (a dot
file, created as the try starts; the executor removes it if the try dies) and renamed, so
a reader sees a whole result or none. It stays on disk after the try, so a
scheduler restarted while tries were running can adopt their outcomes
(:func:`read_result_file`). The ``.metrics.json`` file holds what task code has counted
so far (:func:`millstream.observability.user_metrics.spill_to`), for the outcome the
executor reports if the try is killed; the try removes it as it ends.

A continuing try (a rescheduled sensor's next poke, a deferral's resumption) runs in
steps that share its key and try number, hence its file names: the result names the
step that wrote it (``step_id``), and the fork server removes the previous step's result
before it starts the next step. A result is adopted only for the step it names.
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import functools
import io
import json
import logging
import os
import socket
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from millstream import observability
from millstream.model.states import TaskState
from millstream.private_files import (
    append_private,
    open_private,
    write_all,
    write_private_text,
)
from millstream.runtime.events import TaskFinishedEvent
from millstream.runtime.events_json import MessageFormatError, from_json, to_json
from millstream.runtime.task_runner import run_task_try
from millstream.runtime.xcom import LazyXComReader
from millstream.secrets.masking import (
    RedactingFilter,
    RedactingStream,
    clear_secrets,
    redact,
    redact_text,
)

if TYPE_CHECKING:
    from millstream.authoring.task import BaseOperator
    from millstream.runtime.events import TaskWorkload
    from millstream.runtime.xcom import XComReader
    from millstream.store.records import TaskInstanceKey

log = logging.getLogger("millstream.runtime.worker")

LOG_FORMAT = "[%(asctime)s] %(levelname)s %(name)s: %(message)s"
RESULT_SUFFIX = ".result.json"
RENDERED_SUFFIX = ".rendered.json"
METRICS_SUFFIX = ".metrics.json"


def utc_now() -> datetime:
    return datetime.now(UTC)


# -- where a try's files live -------------------------------------------------------------------
@functools.lru_cache(maxsize=256)  # the same DAG and run ids come again try after try
def path_component(value: str) -> str:
    """``value`` as one safe, reversible path component (see the module docstring)."""
    encoded = quote(value, safe="-_.")
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    return encoded or "%00"  # never an empty component


def try_folder(log_folder: str | os.PathLike[str], key: TaskInstanceKey) -> Path:
    """The folder holding the log and result files of every try of one task instance."""
    return _try_folder(os.fspath(log_folder), key)


@functools.lru_cache(maxsize=64)
def _try_folder(log_folder: str, key: TaskInstanceKey) -> Path:
    # Kept for the last few instances: the fork server asks for it for each try's files.
    return Path(_folder_text(log_folder, key))


@functools.lru_cache(maxsize=64)
def _folder_text(log_folder: str, key: TaskInstanceKey) -> str:
    """:func:`try_folder` as text: a try's own process builds its paths from it, without
    the cost of a Path for each."""
    folder = os.path.join(log_folder, path_component(key.dag_id), path_component(key.run_id),
                          path_component(key.task_id))
    if key.map_index >= 0:
        folder = os.path.join(folder, f"map_index={key.map_index}")
    return folder


def try_log_path(log_folder: str | os.PathLike[str], key: TaskInstanceKey,
                 try_number: int) -> Path:
    """The log file of one try."""
    return try_folder(log_folder, key) / f"{try_number}.log"


def result_path(log_folder: str | os.PathLike[str], key: TaskInstanceKey,
                try_number: int) -> Path:
    """The result file of one try (it exists once the try has ended)."""
    return try_folder(log_folder, key) / f"{try_number}{RESULT_SUFFIX}"


def metrics_path(log_folder: str | os.PathLike[str], key: TaskInstanceKey,
                 try_number: int) -> Path:
    """The file of what a running try's code has counted so far."""
    return try_folder(log_folder, key) / f"{try_number}{METRICS_SUFFIX}"


def rendered_path(log_folder: str | os.PathLike[str], key: TaskInstanceKey,
                  try_number: int) -> Path:
    """The file holding the values a try's templated fields were rendered to."""
    return try_folder(log_folder, key) / f"{try_number}{RENDERED_SUFFIX}"


def write_rendered_file(log_folder: str | os.PathLike[str], key: TaskInstanceKey,
                        try_number: int, task: BaseOperator) -> None:
    """Keep the rendered templated fields of a try as JSON (secrets masked) for the UI.

    A value that is not JSON is kept as its repr; any failure is only logged, since what
    the UI shows must never fail the try.
    """
    _write_rendered(rendered_path(log_folder, key, try_number), task)


_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), sort_keys=True)
"""Without indentation, so the C encoder writes it: the UI lays the values out itself."""


def _write_rendered(path: str | os.PathLike[str], task: BaseOperator) -> None:
    try:
        fields = []
        for name in sorted(set(task.template_fields)):
            value = getattr(task, name, None)
            try:
                text = _COMPACT_JSON.encode(redact(value, name))
            except (TypeError, ValueError):
                text = _COMPACT_JSON.encode(redact(repr(value), name))
            fields.append(f"{_COMPACT_JSON.encode(name)}:{text}")
        write_private_text(path, "{" + ",".join(fields) + "}")
    except Exception as exc:
        log.warning("could not write the rendered fields of %s: %s", path, exc)


# -- result files -------------------------------------------------------------------------------
def write_result_file(log_folder: str | os.PathLike[str], event: TaskFinishedEvent) -> Path:
    """Store a try's outcome atomically (temporary file, then rename); returns its path."""
    path = result_path(log_folder, event.key, event.try_number)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write_private_text(temporary, to_json(event) + "\n")
    os.replace(temporary, path)
    return path


class _ResultFile:
    """A try's result file, whose temporary file is created as the try starts: at its end
    only a write and a rename remain between the task's end and the executor's news of it.

    A try that dies leaves the empty temporary file (a dot file no reader looks at), until
    :func:`remove_unfinished_results`.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        folder, name = os.path.split(path)
        self.temporary = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
        self.fd: int | None = None
        self.identity = (0, 0)
        with contextlib.suppress(OSError):  # tried again at the end, where failing counts
            fd = open_private(self.temporary, os.O_WRONLY | os.O_TRUNC)
            stat = os.fstat(fd)
            self.fd, self.identity = fd, (stat.st_dev, stat.st_ino)

    def commit(self, text: str) -> None:
        """Write ``text`` as the whole result and give the file its name."""
        fd, self.fd = self.fd, None
        if fd is not None and not self._still_ours(fd):
            fd = None  # task code closed it (the number may now be a file of its own)
        if fd is None:
            write_private_text(self.temporary, text)
        else:
            try:
                write_all(fd, text)
            finally:
                os.close(fd)
        os.replace(self.temporary, self.path)

    def _still_ours(self, fd: int) -> bool:
        try:
            stat = os.fstat(fd)
        except OSError:
            return False
        return (stat.st_dev, stat.st_ino) == self.identity and stat.st_size == 0


def remove_unfinished_results(log_folder: str | os.PathLike[str], key: TaskInstanceKey,
                              try_number: int) -> None:
    """Remove the temporary result files that processes of this try left as they died."""
    path = result_path(log_folder, key, try_number)
    prefix = f".{path.name}."
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix) and name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                os.unlink(path.parent / name)


def read_result_text(path: Path) -> str | None:
    """The JSON text of a result file, or None when the try has not left one."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def read_result_file(log_folder: str | os.PathLike[str], key: TaskInstanceKey,
                     try_number: int) -> TaskFinishedEvent | None:
    """The outcome a try left on disk, or None if it has not ended (or never ran here).

    A restarted scheduler calls this for tries that were running when it stopped. The
    outcome may be an earlier step's of a continuing try: compare its ``step_id``.
    """
    path = result_path(log_folder, key, try_number)
    text = read_result_text(path)
    if text is None:
        return None
    try:
        event = from_json(text)
    except MessageFormatError as exc:
        log.warning("ignoring unreadable result file %s: %s", path, exc)
        return None
    if not isinstance(event, TaskFinishedEvent) or event.key != key \
            or event.try_number != try_number:
        log.warning("ignoring result file %s: it describes another try", path)
        return None
    return event


def lost_try_event(workload: TaskWorkload, start: datetime, end: datetime,
                   error: str, metrics: tuple[str, ...] = ()) -> TaskFinishedEvent:
    """The outcome of a try that ended without reporting one: retried if tries remain;
    ``metrics``: what its code had counted (:func:`metrics_path`)."""
    state = (TaskState.UP_FOR_RETRY if workload.try_number <= workload.max_tries
             else TaskState.FAILED)
    return TaskFinishedEvent(workload.key, workload.try_number, state, start, end, error,
                             step_id=workload.step_id, metrics=metrics)


def append_to_log(log_folder: str | os.PathLike[str], key: TaskInstanceKey, try_number: int,
                  *records: tuple[int, str]) -> None:
    """Add records (level, message) to a try's log file, formatted as the try's own lines
    (for what the executor knows of a try's end)."""
    path = try_log_path(log_folder, key, try_number)
    labels = observability.try_labels(key, try_number)
    lines = "".join(observability.try_log_line(labels, level, "millstream.executor",
                                               message.rstrip()) + "\n"
                    for level, message in records)
    try:
        with append_private(path) as file:
            file.write(lines)
    except OSError as exc:
        log.warning("could not write to task log %s: %s", path, exc)


# -- the try itself -----------------------------------------------------------------------------
def run_try_in_this_process(
    task: BaseOperator,
    workload: TaskWorkload,
    log_folder: str | os.PathLike[str],
    reader_factory: Callable[[], XComReader],
    clock: Callable[[], datetime] = utc_now,
) -> int:
    """Run one try in a freshly forked process; returns the exit code it should end with.

    Points stdout, stderr and logging at the try's log file, builds the XCom reader
    (after the fork, so it opens its own database connections), runs the try and writes
    its result file. Every outcome of the task, including an exception escaping the
    runner, becomes a result; only a failure to write the result file gives a non-zero
    code (the executor then reports the try as lost).
    """
    key = workload.key
    start = clock()
    folder = _folder_text(os.fspath(log_folder), key)
    number = workload.try_number
    _redirect_output(os.path.join(folder, f"{number}.log"))
    result = _ResultFile(os.path.join(folder, f"{number}{RESULT_SUFFIX}"))
    observability.label_task_log(workload)
    task_log = logging.getLogger("millstream.task")
    label = key.task_id if key.map_index < 0 else f"{key.task_id}[{key.map_index}]"
    task_log.info("Starting try %d of %s in run %s of DAG %s (host %s, pid %d)",
                  workload.try_number, label, key.run_id, key.dag_id,
                  socket.gethostname(), os.getpid())
    # Kept on disk as they come, so a kill loses only the last moment's.
    observability.spill_to(os.path.join(folder, f"{number}{METRICS_SUFFIX}"))
    try:
        event = run_task_try(
            task, workload, LazyXComReader(reader_factory), clock,
            on_rendered=lambda done: _write_rendered(
                os.path.join(folder, f"{number}{RENDERED_SUFFIX}"), done))
    except BaseException as exc:  # the runner itself failed: still an outcome of this try
        detail = "".join(traceback.format_exception(exc)).rstrip()
        task_log.error("The try could not run: %s", detail)
        event = lost_try_event(workload, start, clock(),
                               f"the task runner failed: {type(exc).__name__}: {exc}\n{detail}")
    task_log.info("Try %d of %s ended: %s", workload.try_number, label, event.state.value)
    if event.error:  # the error is shown in the UI and CLI: no password in it either
        event = dataclasses.replace(event, error=redact_text(event.error))
    try:
        result.commit(to_json(event) + "\n")
    except Exception as exc:
        task_log.error("Could not write the result file: %s", exc)
        return 75
    finally:
        _flush_output()
    return 0


def _redirect_output(log_path: str) -> None:
    fd = open_private(log_path, os.O_WRONLY | os.O_APPEND)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.close(null)
    global _try_streams
    streams = _try_streams
    if streams is None or not streams.in_place():
        _try_streams = streams = _TryStreams()
    # As a try may have left the handler (label_task_log sets its formatter next).
    streams.handler.setLevel(logging.NOTSET)
    streams.handler.filters = [streams.redacting]
    # A crash in native code leaves the Python traceback in the try's log, not the scheduler's.
    faulthandler.enable(file=streams.raw_stderr, all_threads=True)
    # Connection passwords and secret variables the task reads show as *** in its log,
    # whether logged or printed (subprocesses writing to the file directly are not seen).
    clear_secrets()
    root = logging.getLogger()
    # The scheduler's handlers came along with the fork; this process logs to its file only.
    root.handlers = [streams.handler]
    task_log = logging.getLogger("millstream.task")
    task_log.handlers = []
    task_log.propagate = True
    task_log.level = logging.INFO  # root.setLevel clears every logger's cached levels
    root.setLevel(logging.INFO)


class _TryStreams:
    """``sys.stdin``, ``sys.stdout``, ``sys.stderr`` and the log handler over descriptors
    0, 1 and 2. A worker that runs many tries points the descriptors at each try's log and
    keeps these objects, unless a try replaced or closed them: building them anew cost more
    than any other part of pointing the output at a new file."""

    def __init__(self) -> None:
        self.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        self.raw_stdout = open(1, "w", buffering=1, encoding="utf-8",  # noqa: SIM115
                               errors="backslashreplace", closefd=False)
        self.raw_stderr = open(2, "w", buffering=1, encoding="utf-8",  # noqa: SIM115
                               errors="backslashreplace", closefd=False)
        self.stdout = RedactingStream(self.raw_stdout)
        self.stderr = RedactingStream(self.raw_stderr)
        self.handler = logging.StreamHandler(self.stderr)
        self.handler.setFormatter(logging.Formatter(LOG_FORMAT))
        self.redacting = RedactingFilter()
        sys.stdin, sys.stdout, sys.stderr = self.stdin, self.stdout, self.stderr

    def in_place(self) -> bool:
        """Whether the last try left them as they were, and open."""
        return (sys.stdin is self.stdin and sys.stdout is self.stdout
                and sys.stderr is self.stderr and self.handler.stream is self.stderr
                and not any(s.closed for s in (self.stdin, self.raw_stdout, self.raw_stderr)))


_try_streams: _TryStreams | None = None


def _flush_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            stream.flush()
