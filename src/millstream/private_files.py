"""Files and folders that only their owner may read: the database, task logs, the home.

What millstream keeps (the metadata database and its WAL files, task logs and what sits
beside them, the folders of its home) can hold secrets a task printed or returned, so it
is created readable and writable by its owner only (folders 0700, files 0600) whatever
the process's umask. Files and folders that already exist keep the permissions their
owner gave them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TextIO

__all__ = [
    "FILE_MODE",
    "FOLDER_MODE",
    "append_private",
    "make_private_folder",
    "open_private",
    "touch_private",
    "write_all",
    "write_private_text",
]

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def make_private_folder(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` and any missing parents, each owner-only; return it.

    Unlike ``Path.mkdir(parents=True, mode=...)``, which gives missing parents the
    umask's default permissions, every folder this creates gets :data:`FOLDER_MODE`.
    """
    missing: list[str] = []
    candidate = os.fspath(folder)
    while candidate and not os.path.isdir(candidate):
        missing.append(candidate)
        parent = os.path.dirname(candidate.rstrip(os.sep))
        if parent == candidate:  # a root that is not a folder: mkdir says why
            break
        candidate = parent
    for candidate in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            os.mkdir(candidate, FOLDER_MODE)
            os.chmod(candidate, FOLDER_MODE)  # the umask may have removed owner bits
    return Path(folder)


def open_private(path: str | os.PathLike[str], flags: int) -> int:
    """``os.open(path, flags | O_CREAT)``, creating the file (and its folder) owner-only.

    A file that existed keeps its permissions; one this call creates gets :data:`FILE_MODE`.
    """
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return os.open(path, flags & ~os.O_EXCL)
    except FileNotFoundError:  # its folder is missing (tried second: it is usually there)
        make_private_folder(os.path.dirname(os.fspath(path)) or ".")
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            return os.open(path, flags & ~os.O_EXCL)
    os.fchmod(fd, FILE_MODE)
    return fd


def append_private(path: str | os.PathLike[str]) -> TextIO:
    """A text file opened for appending (UTF-8), created owner-only if it is new."""
    return os.fdopen(open_private(path, os.O_WRONLY | os.O_APPEND), "a", encoding="utf-8")


def write_private_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, replacing what it held; a new file is owner-only."""
    fd = open_private(path, os.O_WRONLY | os.O_TRUNC)
    try:
        write_all(fd, text)
    finally:
        os.close(fd)


def write_all(fd: int, text: str) -> None:
    """Write all of ``text`` (UTF-8) to the descriptor ``fd``.

    Straight to the descriptor: a file object would cost a buffer, an encoder and three
    system calls asking what the file is, for a text written once (a worker writes a few
    such files for every try).
    """
    data = memoryview(text.encode("utf-8"))
    while data:
        data = data[os.write(fd, data):]


def touch_private(path: str | os.PathLike[str]) -> Path:
    """Make sure ``path`` exists, creating it empty and owner-only if it does not.

    A file that exists is not opened at all: closing any descriptor of a SQLite database
    drops every lock the process holds on it, those of its open connections included.
    """
    target = Path(path)
    if not target.exists():
        os.close(open_private(target, os.O_WRONLY))
    return target
