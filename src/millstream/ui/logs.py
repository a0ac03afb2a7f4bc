"""Reading a task try's log file for the UI: the tail for the page, new bytes for live updates."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from millstream.api.remote_logs import RemoteLogs
from millstream.api.routes.logs import read_piece, try_finished
from millstream.runtime.worker import try_log_path
from millstream.services.runs import BUSY_TASK_STATES
from millstream.store.records import TaskInstanceRecord

TAIL_BYTES = 256 * 1024
"""How much of a log the page shows at first (the end of it); the rest is a download away."""
PIECE_BYTES = 256 * 1024
"""The most one live update fetches."""


@dataclass(frozen=True, slots=True)
class LogPiece:
    """Some text of a log, where the next read starts, and whether more may come."""

    text: str
    offset: int
    start: int
    size: int
    finished: bool
    exists: bool

    @property
    def truncated(self) -> bool:
        """Whether text before ``start`` was left out."""
        return self.start > 0


def log_path(log_folder: str | os.PathLike[str], ti: TaskInstanceRecord, try_number: int) -> Path:
    return try_log_path(log_folder, ti.key, try_number)


def read_log(log_folder: str | os.PathLike[str], ti: TaskInstanceRecord, try_number: int,
             offset: int | None = None, limit: int = PIECE_BYTES,
             remote: RemoteLogs | None = None) -> LogPiece:
    """From ``offset`` (None: the last ``TAIL_BYTES``), up to ``limit`` bytes of the try's log.

    With ``remote``, a log not found here is read from the worker that ran the try.
    """
    path = log_path(log_folder, ti, try_number)
    finished = try_number < 1 or try_finished(ti, try_number, Path(log_folder))
    try:
        size = path.stat().st_size
    except OSError:
        if remote is not None and try_number >= 1:
            found = _read_remote(remote, ti, try_number, offset, limit)
            if found is not None:
                return found
        return LogPiece("", 0, 0, 0, finished, False)
    if offset is None:
        start = max(0, size - TAIL_BYTES)
        limit = TAIL_BYTES
    else:
        start = min(max(offset, 0), size)
    data = read_piece(path, start, limit)
    if offset is None and start > 0:
        cut = data.find(b"\n")  # begin on a whole line
        if 0 <= cut < len(data) - 1:
            data = data[cut + 1:]
            start += cut + 1
    return LogPiece(data.decode("utf-8", errors="replace"), start + len(data), start, size,
                    finished, True)


def _read_remote(remote: RemoteLogs, ti: TaskInstanceRecord, try_number: int,
                 offset: int | None, limit: int) -> LogPiece | None:
    probe = remote.piece(ti, try_number, 0, 1)
    if probe is None:
        return None
    start = max(0, probe.size - TAIL_BYTES) if offset is None else min(max(offset, 0),
                                                                       probe.size)
    piece = remote.piece(ti, try_number, start, TAIL_BYTES if offset is None else limit)
    if piece is None:
        return None
    data = piece.data
    if offset is None and start > 0:
        cut = data.find(b"\n")  # begin on a whole line
        if 0 <= cut < len(data) - 1:
            data = data[cut + 1:]
            start += cut + 1
    moved_on = ti.try_number != try_number or ti.state not in BUSY_TASK_STATES
    finished = (moved_on or piece.ended) and start + len(data) >= piece.size
    return LogPiece(data.decode("utf-8", errors="replace"), start + len(data), start,
                    piece.size, finished, True)


EXCERPT_BYTES = 16 * 1024


def log_excerpt(log_folder: str | os.PathLike[str], ti: TaskInstanceRecord, try_number: int,
                lines: int = 40, remote: RemoteLogs | None = None) -> tuple[str, bool]:
    """The last ``lines`` lines of the try's log, and whether anything came before them
    (with ``remote``, from the worker that ran the try when the log is not here)."""
    path = log_path(log_folder, ti, try_number)
    try:
        size = path.stat().st_size
    except OSError:
        probe = remote.piece(ti, try_number, 0, 1) if remote is not None else None
        if probe is None:
            return "", False
        size = probe.size
        start = max(0, size - EXCERPT_BYTES)
        piece = remote.piece(ti, try_number, start, EXCERPT_BYTES) if remote else None
        data = piece.data if piece is not None else b""
    else:
        start = max(0, size - EXCERPT_BYTES)
        data = read_piece(path, start, EXCERPT_BYTES)
    text = data.decode("utf-8", errors="replace")
    kept = text.splitlines()
    if start > 0:
        kept = kept[1:]  # the first line read may be cut
    cut = len(kept) > lines or start > 0
    return "\n".join(kept[-lines:]), cut


__all__ = ["PIECE_BYTES", "TAIL_BYTES", "LogPiece", "log_excerpt", "log_path", "read_log"]
