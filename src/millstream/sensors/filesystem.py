"""FileSensor: wait until a file (a path or glob pattern, under a connection's base path) exists."""

from __future__ import annotations

import logging
import os
from typing import Any, ClassVar

from millstream.exceptions import DagDefinitionError
from millstream.sensors.base import BaseSensorOperator
from millstream.triggerer.triggers.file import FileTrigger, find_file

log = logging.getLogger("millstream.task")

DEFAULT_FS_CONN_ID = "fs_default"


def fs_base_path(fs_conn_id: str) -> str:
    """The base path of a filesystem connection: ``path`` in its extra ("" if unset).

    ``fs_default`` need not exist: without it, paths are used as they are written.
    Any other connection must exist (``MILLSTREAM_CONN_<ID>=fs://?path=/data`` will do).
    """
    from millstream.secrets import get_connection
    from millstream.secrets.errors import ConnectionNotFound

    try:
        conn = get_connection(fs_conn_id)
    except ConnectionNotFound:
        if fs_conn_id == DEFAULT_FS_CONN_ID:
            return ""
        raise
    base = (conn.extra_dejson or {}).get("path", "")
    if not isinstance(base, str):
        raise ValueError(
            f"connection {fs_conn_id!r}: extra 'path' must be a string, got {base!r}"
        )
    return base


class FileSensor(BaseSensorOperator):
    """Waits until ``filepath`` names an existing file.

    :param filepath: a path or glob pattern (``/landing/sales_*.csv``), templated
        (``sales_{{ ds }}.csv``). A relative path is taken under the base path of
        ``fs_conn_id``; an absolute one is used as it is. A matching directory counts
        once it holds a file.
    :param fs_conn_id: a filesystem connection whose extra ``{"path": "/data"}`` is the
        base path; the default ``fs_default`` may be left undefined (no base path).
    :param recursive: let ``**`` in the pattern match any number of folders.
    :param deferrable: wait in the triggerer (:class:`FileTrigger`) instead of a worker.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("filepath",)
    ui_color: ClassVar[str] = "#91818a"

    def __init__(
        self,
        *,
        filepath: str | os.PathLike[str],
        fs_conn_id: str = DEFAULT_FS_CONN_ID,
        recursive: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(filepath, str | os.PathLike) or not os.fspath(filepath):
            where = (f"DAG {self.dag_id!r}, task {self.task_id!r}" if self.dag
                     else f"task {self.task_id!r}")
            raise DagDefinitionError(
                f"{where}: filepath must be a non-empty path or glob pattern, got {filepath!r}")
        self.filepath = os.fspath(filepath)
        self.fs_conn_id = fs_conn_id
        self.recursive = recursive

    @property
    def path(self) -> str:
        """The full path or pattern looked for: the connection's base path joined with
        ``filepath`` (after templating)."""
        return os.path.join(fs_base_path(self.fs_conn_id), self.filepath)

    def poke(self, context: dict[str, Any]) -> bool:
        pattern = self.path
        log.info("Poking for file %s", pattern)
        found = find_file(pattern, self.recursive)
        if found is None:
            return False
        log.info("Found file %s", found)
        return True

    def make_trigger(self, context: dict[str, Any]) -> FileTrigger:
        return FileTrigger(self.path, recursive=self.recursive,
                           poke_interval=self.poke_interval.total_seconds())
