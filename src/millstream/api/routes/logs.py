"""Task logs: one try's log file, read in pieces or followed while the try runs."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from millstream.api.auth import Role, User, require_role
from millstream.api.deps import AppContext, SettingsDep, StoreDep, app_context
from millstream.api.problems import Problem, problem_responses
from millstream.api.remote_logs import RemoteLogs
from millstream.api.routes.common import STANDARD_ERRORS, find_task_instance
from millstream.api.routes.task_instances import TI_PATH, MapIndex
from millstream.api.schemas.task_instances import TaskLogOut
from millstream.runtime.worker import result_path, try_log_path
from millstream.services.runs import BUSY_TASK_STATES
from millstream.store.records import TaskInstanceKey, TaskInstanceRecord

router = APIRouter(tags=["Task logs"], responses=problem_responses(*STANDARD_ERRORS))

Viewer = Annotated[User, Depends(require_role(Role.VIEWER))]
TryNumber = Annotated[int, PathParam(ge=1, description="Which try (1 is the first).")]
LOG_PATH = f"{TI_PATH}/logs/{{try_number}}"
DEFAULT_PIECE = 1_000_000
MAX_PIECE = 10_000_000
STREAM_CHUNK = 64 * 1024
POLL_S = 0.5


def try_finished(ti: TaskInstanceRecord, try_number: int, log_folder: Path) -> bool:
    """Whether try ``try_number`` has ended: a later try exists, or the instance is no longer
    under way, or the try left its result file."""
    if ti.try_number != try_number or ti.state not in BUSY_TASK_STATES:
        return True
    return result_path(log_folder, ti.key, try_number).exists()


def _checked(ti: TaskInstanceRecord, try_number: int) -> None:
    if try_number > ti.try_number:
        tries = "not run yet" if ti.try_number == 0 else f"had {ti.try_number} try(s)"
        raise Problem(404, f"task instance {ti.label!r} of run {ti.run_id!r} has {tries}, "
                           f"so there is no try {try_number}")


def read_piece(path: Path, offset: int, size: int) -> bytes:
    """Up to ``size`` bytes from ``offset``, ending on a whole UTF-8 character (a piece
    smaller than its first character holds that character whole)."""
    try:
        with path.open("rb") as file:
            file.seek(offset)
            data = file.read(size)
            if len(data) < size:
                return data
            cut = _last_whole(data)
            if cut > 0:
                return data[:cut]
            return data + file.read(_char_length(data[0]) - len(data))
    except FileNotFoundError:
        return b""


def _char_length(first: int) -> int:
    """How many bytes the UTF-8 character starting with byte ``first`` has."""
    return 1 if first < 0xC0 else 2 if first < 0xE0 else 3 if first < 0xF0 else 4


def _last_whole(data: bytes) -> int:
    """The length of ``data`` without a character cut off at its end."""
    lead = len(data) - 1
    while lead > 0 and len(data) - lead < 4 and data[lead] & 0xC0 == 0x80:
        lead -= 1
    return len(data) if len(data) - lead >= _char_length(data[lead]) else lead


@router.get(LOG_PATH, response_model=TaskLogOut, summary="Read a try's log")
def get_log(
    dag_id: str, dag_run_id: str, task_id: str, try_number: TryNumber, store: StoreDep,
    settings: SettingsDep, user: Viewer, map_index: MapIndex = -1,
    offset: Annotated[int, Query(ge=0, description="Byte to start from (next_offset of the "
                                                   "previous piece).")] = 0,
    max_bytes: Annotated[int, Query(ge=1, le=MAX_PIECE, description="Longest piece to "
                                                                     "return.")] = DEFAULT_PIECE,
) -> TaskLogOut:
    """A piece of the log; poll with ``offset=next_offset`` until ``finished``."""
    ti = find_task_instance(store, dag_id, dag_run_id, task_id, map_index)
    _checked(ti, try_number)
    folder = Path(settings.logging.base_log_folder)
    finished = try_finished(ti, try_number, folder)
    path = try_log_path(folder, ti.key, try_number)
    remote = RemoteLogs.from_settings(settings)
    piece = None if remote is None or path.exists() else remote.piece(ti, try_number, offset,
                                                                      max_bytes)
    if piece is not None:  # the try ran on a Celery worker: its log is there
        data = piece.data[:_last_whole(piece.data)] if len(piece.data) == max_bytes \
            else piece.data
        moved_on = ti.try_number != try_number or ti.state not in BUSY_TASK_STATES
        return TaskLogOut(
            dag_id=dag_id, dag_run_id=dag_run_id, task_id=task_id, map_index=map_index,
            try_number=try_number, content=data.decode("utf-8", errors="replace"),
            offset=offset, next_offset=offset + len(data),
            finished=(moved_on or piece.ended) and offset + len(data) >= piece.size,
        )
    if finished and not path.exists():
        raise Problem(404, f"no log file for try {try_number} of {ti.label!r} in run "
                           f"{dag_run_id!r} (looked for {path})")
    data = read_piece(path, offset, max_bytes)
    return TaskLogOut(
        dag_id=dag_id, dag_run_id=dag_run_id, task_id=task_id, map_index=map_index,
        try_number=try_number, content=data.decode("utf-8", errors="replace"), offset=offset,
        next_offset=offset + len(data),
        finished=finished and offset + len(data) >= _size(path),
    )


@router.get(f"{LOG_PATH}/stream", response_class=StreamingResponse,
            summary="Follow a try's log until the try ends",
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "The log, as it is written."}})
def stream_log(
    dag_id: str, dag_run_id: str, task_id: str, try_number: TryNumber, store: StoreDep,
    settings: SettingsDep, user: Viewer, context: Annotated[AppContext, Depends(app_context)],
    map_index: MapIndex = -1,
) -> StreamingResponse:
    """The whole log so far, then each new line as it is written; the response ends when
    the try does."""
    ti = find_task_instance(store, dag_id, dag_run_id, task_id, map_index)
    _checked(ti, try_number)
    folder = Path(settings.logging.base_log_folder)
    remote = RemoteLogs.from_settings(settings)
    local = try_log_path(folder, ti.key, try_number).exists()
    if try_finished(ti, try_number, folder) and not local and (
        remote is None or remote.piece(ti, try_number, 0, 1) is None
    ):
        raise Problem(404, f"no log file for try {try_number} of {ti.label!r} in run "
                           f"{dag_run_id!r}")
    return StreamingResponse(_follow(context, folder, ti.key, try_number, remote),
                             media_type="text/plain; charset=utf-8")


async def _follow(context: AppContext, folder: Path, key: TaskInstanceKey,
                  try_number: int, remote: RemoteLogs | None) -> AsyncIterator[bytes]:
    path = try_log_path(folder, key, try_number)
    position = 0
    while True:
        # Whether the try had ended is known before the last read, so nothing written
        # before its end is missed.
        ended, ti = await anyio.to_thread.run_sync(_has_ended, context, folder, key,
                                                   try_number)
        while True:
            data = await anyio.to_thread.run_sync(_read_here_or_there, path, remote, ti,
                                                  try_number, position)
            if not data:
                break
            position += len(data)
            yield data
        if ended:
            return
        await anyio.sleep(POLL_S)


def _read_here_or_there(path: Path, remote: RemoteLogs | None, ti: TaskInstanceRecord | None,
                        try_number: int, position: int) -> bytes:
    """From the local log file, or (none here) from the worker that ran the try."""
    if remote is None or ti is None or path.exists():
        return read_piece(path, position, STREAM_CHUNK)
    piece = remote.piece(ti, try_number, position, STREAM_CHUNK)
    if piece is None:
        return b""
    return piece.data[:_last_whole(piece.data)] if len(piece.data) == STREAM_CHUNK \
        else piece.data


def _has_ended(context: AppContext, folder: Path, key: TaskInstanceKey,
               try_number: int) -> tuple[bool, TaskInstanceRecord | None]:
    if result_path(folder, key, try_number).exists():
        return True, None  # ended here: its log is here too
    with context.open_store() as store, store.transaction(read_only=True):
        ti = store.task_instances.get(key)
    return ti is None or try_finished(ti, try_number, folder), ti


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0
