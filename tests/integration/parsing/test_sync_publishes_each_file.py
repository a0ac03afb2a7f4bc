"""The folder sync stores each file's DAGs as soon as that file is parsed: a file that hangs
until its timeout holds back no other file's DAGs."""

from __future__ import annotations

import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from millstream.parsing.sync import DagFolderSync
from millstream.store.sql import SqlStore, make_engine
from millstream.store.sql.migrate import migrate

HANGS = """
    import time

    from millstream import DAG  # noqa: F401 (so the file is taken for a DAG file)

    time.sleep(1000)
"""

GOOD = """
    from millstream import DAG
    from millstream.operators.empty import EmptyOperator

    with DAG("{dag_id}", schedule=None) as dag:
        EmptyOperator(task_id="t")
"""


def test_a_good_file_is_stored_while_another_file_still_hangs(tmp_path: Path) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "a_hangs.py").write_text(textwrap.dedent(HANGS))
    (folder / "b_good.py").write_text(textwrap.dedent(GOOD.format(dag_id="good")))
    url = f"sqlite:///{tmp_path / 'millstream.db'}"
    engine = make_engine(url)
    migrate(engine)
    sync = DagFolderSync([folder], timeout_s=8.0)
    writer, reader = SqlStore(engine), SqlStore(engine)
    parsing = threading.Thread(target=sync, args=(writer, datetime.now(UTC)))
    parsing.start()
    try:
        seen_while_hanging = False
        while parsing.is_alive():
            with reader.transaction():
                if reader.dags.get("good") is not None:
                    seen_while_hanging = parsing.is_alive()
                    break
            time.sleep(0.05)
        assert seen_while_hanging, "the good file's DAG waited for the hanging file"
    finally:
        parsing.join()
        sync.close()
        writer.close()
        reader.close()
        engine.dispose()
    engine = make_engine(url)
    store = SqlStore(engine)
    try:
        with store.transaction():
            errors = {e.filename: e.traceback for e in store.import_errors.list()}
    finally:
        store.close()
        engine.dispose()
    assert "timed out after 8 s" in errors[str((folder / "a_hangs.py").resolve())]
