"""The folder sync: a dag_id defined in two files is an import error of the second file,
naming both, until the first file gives the dag_id up."""

from __future__ import annotations

import os
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from millstream.parsing.sync import DagFolderSync
from millstream.store.sql import SqlStore, make_engine
from millstream.store.sql.migrate import migrate

DAG_FILE = """
    from millstream import DAG
    from millstream.operators.empty import EmptyOperator

    with DAG("{dag_id}", schedule=None):
        EmptyOperator(task_id="{task_id}")
"""


def _write(path: Path, dag_id: str, task_id: str) -> None:
    path.write_text(textwrap.dedent(DAG_FILE.format(dag_id=dag_id, task_id=task_id)))


def test_the_second_file_with_a_dag_id_is_an_import_error_naming_both(tmp_path: Path) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    first, second = folder / "first.py", folder / "second.py"
    _write(first, "shared", "from_first")
    url = f"sqlite:///{tmp_path / 'millstream.db'}"
    engine = make_engine(url)
    migrate(engine)
    store = SqlStore(engine)
    sync = DagFolderSync([folder], timeout_s=30.0)
    try:
        sync(store, datetime.now(UTC))
        _write(second, "shared", "from_second")
        sync(store, datetime.now(UTC))
        with store.transaction():
            record = store.dags.get("shared")
            errors = {e.filename: e.traceback for e in store.import_errors.list()}
        assert record is not None and record.fileloc == str(first.resolve())
        assert list(errors) == [str(second.resolve())]
        message = errors[str(second.resolve())]
        assert "DuplicateDagId" in message and str(first.resolve()) in message

        # The first file renames its DAG: the second file's is taken on the next pass,
        # although the second file itself did not change.
        _write(first, "renamed", "from_first")
        stat = first.stat()
        os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        sync(store, datetime.now(UTC))
        sync(store, datetime.now(UTC))
        with store.transaction():
            record = store.dags.get("shared")
            errors = {e.filename: e.traceback for e in store.import_errors.list()}
        assert record is not None and record.fileloc == str(second.resolve())
        assert errors == {}
    finally:
        sync.close()
        store.close()
        engine.dispose()
