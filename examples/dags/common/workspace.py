"""Per-run work folders under MILLSTREAM_HOME for a pipeline's intermediate files."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from urllib.parse import quote

WORK_FOLDER = "work"


def _component(value: str) -> str:
    """``value`` as one safe path component: run ids hold ``:`` and ``+``."""
    encoded = quote(value, safe="-_.")
    return "%2E" + encoded[1:] if encoded.startswith(".") else encoded


def run_folder(pipeline_id: str, run_id: str, create: bool = True) -> Path:
    """``$MILLSTREAM_HOME/work/<pipeline>/<run>``: the one place a run keeps its files.

    Not /tmp: there the files of two runs (or of two users) can collide, and a reboot
    can remove them while a retry still needs them.
    """
    from millstream.config import load_settings

    folder = (Path(load_settings().core.home) / WORK_FOLDER
              / _component(pipeline_id) / _component(run_id))
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def remove_run_folder(pipeline_id: str, run_id: str) -> list[str]:
    """Delete the run's folder and everything in it; returns the names of the files removed."""
    folder = run_folder(pipeline_id, run_id, create=False)
    if not folder.exists():
        return []
    removed = sorted(p.name for p in folder.iterdir())
    shutil.rmtree(folder)
    with contextlib.suppress(OSError):  # the pipeline's folder goes with its last run
        folder.parent.rmdir()
    return removed
