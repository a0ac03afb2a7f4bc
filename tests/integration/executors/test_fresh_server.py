"""The fork server as a fresh interpreter: workers without the scheduler's imports.

This test process has SQLAlchemy's ORM and the SQL store imported; a try reports which
of them its worker has.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from millstream.executors.sql_factories import SqlStoreFactory, SqlXComReaderFactory
from millstream.model.limits import Limits, use_limits
from millstream.model.states import TaskState
from millstream.runtime.events import TaskFinishedEvent, TaskWorkload
from millstream.store.records import TaskInstanceKey
from millstream.store.sql import SqlStore, make_engine
from millstream.store.sql.migrate import migrate

from .helpers import ExecutorFactory, collect, memory_reader, run_record

MODULES_DAG = textwrap.dedent(
    '''
    import sys
    from datetime import datetime

    from millstream import DAG
    from millstream.operators.python import PythonOperator
    from millstream.store.current import current_store

    HEAVY = ["sqlalchemy", "sqlalchemy.orm", "millstream.store.sql", "millstream.scheduler",
             "millstream.api", "millstream.ui", "fastapi", "uvicorn"]


    def modules():
        return sorted(name for name in HEAVY if name in sys.modules)


    def big():
        return "x" * 5000


    def store_has_run(run_id):
        store = current_store()
        with store.transaction():
            return store.runs.get("executor_tasks", run_id) is not None


    with DAG("reuse", start_date=datetime(2026, 1, 1), schedule=None) as dag:
        PythonOperator(task_id="modules", python_callable=modules)
        PythonOperator(task_id="big", python_callable=big)
        PythonOperator(task_id="store_has_run", python_callable=store_has_run,
                       op_kwargs={"run_id": "manual__fresh"})
    '''
)

HEAVY = ["sqlalchemy", "sqlalchemy.orm", "millstream.store.sql", "millstream.scheduler",
         "millstream.api", "millstream.ui", "fastapi", "uvicorn"]


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "dags" / "modules.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(MODULES_DAG)
    return path


def _run(executor: Any, path: Path, task_id: str) -> Any:
    key = TaskInstanceKey("reuse", "manual__fresh", task_id)
    executor.submit(TaskWorkload(key, 1, 0, run_record("manual__fresh"), {}, str(path)))
    (done,) = [e for e in collect(executor, 1) if isinstance(e, TaskFinishedEvent)]
    assert done.state is TaskState.SUCCESS, done.error
    return json.loads(dict(done.xcoms)["return_value"])


def _command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_workers_come_from_an_interpreter_that_never_imported_the_schedulers_modules(
    make_executor: ExecutorFactory, tmp_path: Path,
) -> None:
    import sqlalchemy.orm  # noqa: F401 - what the scheduler has and workers must not

    executor = make_executor(reader_factory=memory_reader)
    assert executor.fork_server_pid is not None
    assert "millstream.executors.forkserver_main" in _command_line(executor.fork_server_pid)
    assert _run(executor, _file(tmp_path), "modules") == []


def test_a_configuration_that_cannot_be_pickled_gets_a_forked_server(
    make_executor: ExecutorFactory, tmp_path: Path,
) -> None:
    executor = make_executor(reader_factory=lambda: memory_reader())
    assert executor.fork_server_pid is not None
    assert "forkserver_main" not in _command_line(executor.fork_server_pid)
    # A fork has what this process had imported.
    assert _run(executor, _file(tmp_path), "modules") == sorted(
        name for name in HEAVY if name in sys.modules)


def test_tries_of_a_fresh_server_open_the_store_with_the_factory_given(
    make_executor: ExecutorFactory, tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'millstream.db'}"
    migrate(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    with store.transaction():
        store.runs.add(run_record("manual__fresh"))
    store.close()
    engine.dispose()
    executor = make_executor(reader_factory=SqlXComReaderFactory(url),
                             store_factory=SqlStoreFactory(url))
    assert executor.fork_server_pid is not None
    assert "forkserver_main" in _command_line(executor.fork_server_pid)
    assert _run(executor, _file(tmp_path), "store_has_run") is True


def test_a_fresh_server_checks_the_limits_in_force_where_it_was_started(
    make_executor: ExecutorFactory, tmp_path: Path,
) -> None:
    use_limits(Limits(max_xcom_bytes=2000))  # as the CLI does from [limits]
    try:
        executor = make_executor(reader_factory=memory_reader)
    finally:
        use_limits(Limits())
    assert executor.fork_server_pid is not None
    assert "forkserver_main" in _command_line(executor.fork_server_pid)
    key = TaskInstanceKey("reuse", "manual__fresh", "big")
    executor.submit(TaskWorkload(key, 1, 0, run_record("manual__fresh"), {},
                                 str(_file(tmp_path))))
    (done,) = [e for e in collect(executor, 1) if isinstance(e, TaskFinishedEvent)]
    assert done.state is TaskState.FAILED
    assert "max_xcom_bytes" in (done.error or "")
