"""File triggers: FileTrigger fires once a file matching a path or glob pattern exists
(FileSensor's wait); FileDeleteTrigger and DirectoryFileDeleteTrigger fire when a file
appears and delete it (asset watchers: each new file is one event)."""

from __future__ import annotations

import asyncio
import glob
import logging
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from millstream.triggerer.base import BaseTrigger, TriggerEvent
from millstream.triggerer.clock import current_clock

log = logging.getLogger("millstream.triggerer")


def find_file(pattern: str, recursive: bool = False) -> str | None:
    """The first existing file that ``pattern`` (a path or a glob) names, else None.

    A matching directory counts once any file exists somewhere below it, as in Airflow:
    waiting for ``/landing/2026-01-01`` means waiting for that folder to receive data.
    With ``recursive``, ``**`` in the pattern matches any number of folders.
    """
    for path in sorted(glob.iglob(pattern, recursive=recursive)):
        if os.path.isfile(path):
            return path
        for folder, _, files in os.walk(path):
            if files:
                return os.path.join(folder, sorted(files)[0])
    return None


class FileTrigger(BaseTrigger):
    """Checks ``filepath`` (a path or glob pattern) every ``poke_interval`` seconds and fires
    with ``{"status": "success", "filepath": <the file found>}`` once a file exists."""

    def __init__(self, filepath: str, recursive: bool = False, poke_interval: float = 5.0) -> None:
        super().__init__()
        if not isinstance(filepath, str) or not filepath:
            raise ValueError(f"FileTrigger: filepath must be a non-empty string, got {filepath!r}")
        if poke_interval < 0:
            raise ValueError(f"FileTrigger: poke_interval must not be negative, got "
                             f"{poke_interval!r}")
        self.filepath = filepath
        self.recursive = recursive
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("millstream.triggerer.triggers.file.FileTrigger",
                {"filepath": self.filepath, "recursive": self.recursive,
                 "poke_interval": self.poke_interval})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        clock = current_clock()
        while True:
            # a glob over a large or network-mounted folder may block: keep it off the loop
            found = await asyncio.to_thread(find_file, self.filepath, self.recursive)
            if found is not None:
                log.info("Found %s (waiting for %s)", found, self.filepath)
                yield TriggerEvent({"status": "success", "filepath": found})
                return
            await clock.sleep_until(clock.now() + timedelta(seconds=self.poke_interval))


class FileDeleteTrigger(BaseTrigger):
    """Fires once ``filepath`` exists as a file, and deletes it, so that watching it again
    (an asset watcher) waits for the next one: ``{"status": "success", "filepath": ...}``."""

    def __init__(self, filepath: str, poke_interval: float = 5.0) -> None:
        super().__init__()
        if not isinstance(filepath, str) or not filepath:
            raise ValueError(
                f"FileDeleteTrigger: filepath must be a non-empty string, got {filepath!r}")
        if poke_interval < 0:
            raise ValueError(f"FileDeleteTrigger: poke_interval must not be negative, got "
                             f"{poke_interval!r}")
        self.filepath = filepath
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("millstream.triggerer.triggers.file.FileDeleteTrigger",
                {"filepath": self.filepath, "poke_interval": self.poke_interval})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        clock = current_clock()
        while True:
            if await asyncio.to_thread(_take_file, self.filepath):
                log.info("Found and deleted %s", self.filepath)
                yield TriggerEvent({"status": "success", "filepath": self.filepath})
                return
            await clock.sleep_until(clock.now() + timedelta(seconds=self.poke_interval))


class DirectoryFileDeleteTrigger(FileDeleteTrigger):
    """:class:`FileDeleteTrigger` for the file ``filename`` in ``directory``."""

    def __init__(self, directory: str, filename: str, poke_interval: float = 5.0) -> None:
        for what, value in (("directory", directory), ("filename", filename)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"DirectoryFileDeleteTrigger: {what} must be a non-empty "
                                 f"string, got {value!r}")
        super().__init__(os.path.join(directory, filename), poke_interval)
        self.directory = directory
        self.filename = filename

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("millstream.triggerer.triggers.file.DirectoryFileDeleteTrigger",
                {"directory": self.directory, "filename": self.filename,
                 "poke_interval": self.poke_interval})


def _take_file(path: str) -> bool:
    """Delete ``path`` if it is a file; whether it was there (another taker may win)."""
    if not os.path.isfile(path):
        return False
    try:
        os.remove(path)
    except FileNotFoundError:
        return False
    return True
