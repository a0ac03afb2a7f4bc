"""Keeping the store's DAGs in step with the DAG folders: structures, versions, import errors."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from millstream.parsing.loader import iter_dag_files
from millstream.parsing.processor import DagFileProcessor, FileFingerprint, FileResult
from millstream.parsing.serialize import DagStructure

if TYPE_CHECKING:
    from millstream.store.interfaces import Store

log = logging.getLogger("millstream.parsing")


class DagFolderSync:
    """Parses the DAG folders in worker processes and records what it found in the store.

    A changed file's DAGs get a new version when their structure changed; a DAG that
    left its file (or whose file was deleted) becomes inactive; a file that fails to load
    has its import error stored until it loads again. Unchanged files are not re-parsed.

    A DAG seen for the first time is stored paused when its ``is_paused_upon_creation``
    says so, else per its folder's entry in ``paused_on_create_by_folder``, else per
    ``paused_on_create`` (Airflow's ``dags_are_paused_at_creation``, true by default). A DAG
    already stored keeps its paused flag whatever its file says.
    """

    def __init__(
        self,
        folders: Iterable[str | os.PathLike[str]],
        timeout_s: float = 30.0,
        memory_mb: int = 1024,
        paused_on_create: bool = True,
        paused_on_create_by_folder: Mapping[Path, bool] | None = None,
    ) -> None:
        self.folders = [Path(f) for f in folders]
        self.processor = DagFileProcessor(timeout_s=timeout_s, memory_mb=memory_mb)
        self.paused_on_create = paused_on_create
        self._folder_paused = {Path(f).resolve(): paused
                               for f, paused in (paused_on_create_by_folder or {}).items()}
        self._file_paused: dict[str, bool] = {}
        self._fingerprints: dict[str, FileFingerprint] = {}

    def files(self) -> list[str]:
        """Every DAG file of the folders (a file found through two folders counts once)."""
        found: dict[str, bool] = {}
        for folder in self.folders:
            paused = self._folder_paused.get(folder.resolve(), self.paused_on_create)
            if folder.is_file():
                found.setdefault(str(folder.resolve()), paused)
            elif folder.is_dir():
                for path in iter_dag_files(folder):
                    found.setdefault(str(path.resolve()), paused)
        self._file_paused = found
        return list(found)

    def __call__(self, store: Store, now: datetime) -> None:
        """Parse the files that changed and store each one's outcome as soon as it is
        known, in a transaction of its own: a slow or hanging file holds back no other
        file's DAGs."""
        started = time.perf_counter()
        present: list[str] = []
        changed_files: list[str] = []
        gone: list[str] = []

        def publish(result: FileResult) -> None:
            found, removed, clashed = self._store_file(store, result, now)
            present.extend(found)
            gone.extend(removed)
            if result.error is None:
                changed_files.append(result.path)
            # Only once stored: a write that failed leaves the file to be parsed again, and
            # so does a dag_id clash, until the other file gives the dag_id up.
            if result.fingerprint is not None and not clashed:
                self._fingerprints[result.path] = result.fingerprint

        paths = self.files()
        try:
            report = self.processor.parse(paths, previous=dict(self._fingerprints),
                                          on_result=publish)
        finally:
            # Parsing is rare (files change seldom); idle workers would hold tens of MB each.
            self.processor.close()
        deleted = set(self._fingerprints) - set(report.files)
        if deleted:
            with store.transaction():
                for path in deleted:
                    store.import_errors.set(path, None, now)
                gone.extend(store.dags.deactivate_missing([], sorted(deleted)))
            for path in deleted:
                del self._fingerprints[path]
        if changed_files or deleted:
            log.info("parsed %d changed file(s) in %.2f s; %d DAG(s) found%s",
                     len(changed_files), time.perf_counter() - started, len(present),
                     f"; no longer present: {', '.join(gone)}" if gone else "")

    def _store_file(self, store: Store, result: FileResult,
                    now: datetime) -> tuple[list[str], list[str], bool]:
        """Store one parsed file: its DAGs (those that left it become inactive) or its
        import error (its DAGs keep their last good version). Returns the DAG ids found,
        those deactivated, and whether a dag_id clashed with another file's."""
        path = result.path
        with store.transaction():
            if result.error is not None:
                log.warning("cannot load %s: %s", path, result.error.summary)
                store.import_errors.set(path, result.error.message, now)
                return [], [], False
            clashes = self._clashes(store, path, [d["dag_id"] for d in result.dags])
            if clashes:
                # As in Airflow: the file that had the dag_id first keeps it; this one is
                # an import error naming both files, and its DAGs keep their last version.
                message = "\n".join(
                    f"DuplicateDagId: dag_id {dag_id!r} in {path} is already defined in {other}"
                    for dag_id, other in clashes)
                log.warning("cannot load %s: %s", path, message.splitlines()[0])
                store.import_errors.set(path, message, now)
                return [], [], True
            store.import_errors.set(path, None, now)
            found: list[str] = []
            for data in result.dags:
                structure = DagStructure(data)
                found.append(structure.dag_id)
                paused = (
                    structure.is_paused_upon_creation
                    if structure.is_paused_upon_creation is not None
                    else self._file_paused.get(path, self.paused_on_create)
                )
                store.dags.upsert(structure.dag_id, path, structure.to_json(),
                                  structure.version, now, paused_on_create=paused)
            return found, store.dags.deactivate_missing(found, [path]), False

    def _clashes(self, store: Store, path: str, dag_ids: list[str]) -> list[tuple[str, str]]:
        """The dag_ids of ``path`` that an active DAG of another current DAG file has."""
        found = []
        for dag_id in dag_ids:
            record = store.dags.get(dag_id)
            if (record is not None and record.is_active and record.fileloc
                    and record.fileloc != path and record.fileloc in self._file_paused):
                found.append((dag_id, record.fileloc))
        return found

    def close(self) -> None:
        self.processor.close()
