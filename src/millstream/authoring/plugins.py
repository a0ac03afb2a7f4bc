"""The plugins folder (``core.plugins_folder``): custom operators, hooks and timetables.

As in Airflow, the folder is on the import path of every process that imports DAG files
(parsing workers, task processes, callbacks) and of the scheduler when it rebuilds a
custom timetable, so modules kept there import by their plain names.
"""

from __future__ import annotations

import sys
from pathlib import Path

from millstream.exceptions import MillstreamError


def plugins_folder() -> Path:
    """The ``core.plugins_folder`` setting (default ``<home>/plugins``)."""
    from millstream.config import load_settings

    return Path(load_settings().core.plugins_folder).expanduser()


def add_plugins_folder() -> str | None:
    """Put the plugins folder, if it exists, at the end of ``sys.path`` (as Airflow does).

    Returns the folder, or None when it does not exist (or the settings cannot be read:
    that is reported, naming the setting, wherever the settings are loaded in full).
    """
    try:
        folder = plugins_folder()
    except MillstreamError:
        return None
    if not folder.is_dir():
        return None
    text = str(folder.resolve())
    if text not in sys.path:
        sys.path.append(text)
    return text


__all__ = ["add_plugins_folder", "plugins_folder"]
