"""Zygotes: the fork server imports no DAG file; each file is imported, capped, in a zygote.

Every DAG file here leaves a marker named after the pid of the process importing it, so
the tests see which processes imported what: never the fork server, once per file
version in a zygote, and a try is forked from its file's zygote.
"""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from pathlib import Path

from millstream.model.states import TaskState
from millstream.processes import process_exists
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
from millstream.runtime.worker import try_log_path
from millstream.store.records import TaskInstanceKey

from .helpers import Event, collect, run_record, wait_until

MARKED_DAG = textwrap.dedent(
    """
    import os
    from datetime import datetime
    from pathlib import Path

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    (Path({markers!r}) / f"{{os.getpid()}}.{dag_id}").write_text("imported")
    {extra}

    def where():
        return {{"pid": os.getpid(), "parent": os.getppid()}}

    with DAG({dag_id!r}, start_date=datetime(2026, 1, 1), schedule=None) as dag:
        PythonOperator(task_id="where", python_callable=where)
    """
)

HANG = "while True:\n    pass"
ALLOCATE = "hoard = [bytearray(16 * 1024 * 1024) for _ in range(64)]  # 1 GB, past the cap"


def write_dag(folder: Path, markers: Path, dag_id: str, extra: str = "") -> Path:
    path = folder / f"{dag_id}.py"
    path.write_text(MARKED_DAG.format(markers=str(markers), dag_id=dag_id, extra=extra))
    return path


def try_of(path: Path, dag_id: str, try_number: int = 1, max_tries: int = 0) -> TaskWorkload:
    key = TaskInstanceKey(dag_id, "manual__zygote", "where")
    run = run_record("manual__zygote")
    return TaskWorkload(key, try_number, max_tries, run, {}, str(path))


def importers(markers: Path, dag_id: str) -> list[int]:
    """The pids of the processes that imported ``dag_id``'s file, in no order."""
    return [int(p.name.split(".")[0]) for p in markers.glob(f"*.{dag_id}")]


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def folders(tmp_path: Path) -> tuple[Path, Path]:
    dags, markers = tmp_path / "dags", tmp_path / "markers"
    dags.mkdir(exist_ok=True)
    markers.mkdir(exist_ok=True)
    return dags, markers


def finished_by_dag(events: list[Event]) -> dict[str, TaskFinishedEvent]:
    return {e.key.dag_id: e for e in events if isinstance(e, TaskFinishedEvent)}


def test_the_fork_server_never_imports_a_dag_file_its_tries_come_from_a_zygote(
    make_executor, tmp_path,
):
    dags, markers = folders(tmp_path)
    path = write_dag(dags, markers, "plain")
    executor = make_executor()
    executor.submit(try_of(path, "plain"))
    executor.submit(try_of(path, "plain", try_number=2))
    events = collect(executor, 2)
    finished = [e for e in events if isinstance(e, TaskFinishedEvent)]
    assert [e.state for e in finished] == [TaskState.SUCCESS] * 2
    (zygote,) = importers(markers, "plain")  # imported once, for both tries
    server = executor.fork_server_pid
    assert zygote not in (server, os.getpid())
    assert parent_of(zygote) == server
    for event in finished:  # each try ran in a process of its own, forked by the zygote
        where = json.loads(dict(event.xcoms)["return_value"])
        assert where["parent"] == zygote and where["pid"] not in (zygote, server)


def test_a_prepared_file_is_imported_before_its_first_try_which_its_zygote_runs(
    make_executor, tmp_path,
):
    dags, markers = folders(tmp_path)
    path = write_dag(dags, markers, "ahead")
    executor = make_executor()
    executor.prepare(str(path))
    wait_until(lambda: importers(markers, "ahead"), 10, "the prepared file to be imported")
    (zygote,) = importers(markers, "ahead")
    assert parent_of(zygote) == executor.fork_server_pid
    executor.prepare(str(path))  # already prepared: nothing more is started
    executor.submit(try_of(path, "ahead"))
    finished = [e for e in collect(executor, 1) if isinstance(e, TaskFinishedEvent)]
    assert finished[0].state is TaskState.SUCCESS, finished[0].error
    assert json.loads(dict(finished[0].xcoms)["return_value"])["parent"] == zygote
    assert importers(markers, "ahead") == [zygote]


def test_preparing_a_file_that_cannot_be_read_leaves_its_try_to_say_why(
    make_executor, tmp_path,
):
    dags, markers = folders(tmp_path)
    missing = dags / "missing.py"
    executor = make_executor()
    executor.prepare(str(missing))
    executor.submit(try_of(missing, "missing", max_tries=0))
    (failed,) = [e for e in collect(executor, 1) if isinstance(e, TaskFinishedEvent)]
    assert failed.state is TaskState.FAILED
    assert f"DAG file {missing} cannot be read" in (failed.error or "")
    fine = write_dag(dags, markers, "fine")
    executor.submit(try_of(fine, "fine"))
    done = [e for e in collect(executor, 1) if isinstance(e, TaskFinishedEvent)]
    assert done[0].state is TaskState.SUCCESS


def test_a_file_that_hangs_at_import_fails_its_tries_while_another_files_run(
    make_executor, tmp_path,
):
    dags, markers = folders(tmp_path)
    hangs = write_dag(dags, markers, "hangs", HANG)
    fine = write_dag(dags, markers, "fine")
    executor = make_executor(dag_import_timeout=1.5)
    server = executor.fork_server_pid
    executor.submit(try_of(hangs, "hangs", max_tries=1))
    executor.submit(try_of(fine, "fine"))
    done = finished_by_dag(collect(executor, 2, timeout=30))
    assert done["fine"].state is TaskState.SUCCESS
    hung = done["hangs"]
    assert hung.state is TaskState.UP_FOR_RETRY  # a try is left: it may be retried
    assert "took longer than 1.5 s to import" in (hung.error or "")
    log_text = try_log_path(executor.log_folder, hung.key, 1).read_text()
    assert "took longer than 1.5 s to import" in log_text
    (zygote,) = importers(markers, "hangs")
    wait_until(lambda: not process_exists(zygote), 10, "the hanging zygote to be gone")
    assert executor.fork_server_pid == server and process_exists(server)


def test_a_file_that_allocates_past_the_cap_fails_its_tries_while_another_files_run(
    make_executor, tmp_path,
):
    dags, markers = folders(tmp_path)
    greedy = write_dag(dags, markers, "greedy", ALLOCATE)
    fine = write_dag(dags, markers, "fine")
    executor = make_executor(dag_import_memory_mb=256)
    server = executor.fork_server_pid
    executor.submit(try_of(greedy, "greedy"))
    executor.submit(try_of(fine, "fine"))
    done = finished_by_dag(collect(executor, 2, timeout=30))
    assert done["fine"].state is TaskState.SUCCESS
    greedy_try = done["greedy"]
    assert greedy_try.state is TaskState.FAILED
    assert "exceeded 256 MB of memory while it was imported" in (greedy_try.error or "")
    log_text = try_log_path(executor.log_folder, greedy_try.key, 1).read_text()
    assert "exceeded 256 MB of memory" in log_text
    (zygote,) = importers(markers, "greedy")
    wait_until(lambda: not process_exists(zygote), 10, "the greedy zygote to be gone")
    assert executor.fork_server_pid == server and process_exists(server)


def test_a_try_is_not_bound_by_the_import_cap(make_executor, tmp_path):
    dags, markers = folders(tmp_path)
    path = write_dag(dags, markers, "big_try")
    allocating = 'hoard = bytearray(384 * 1024 * 1024)\n    return {"size": len(hoard), "pid"'
    path.write_text(path.read_text().replace('return {"pid"', allocating))
    executor = make_executor(dag_import_memory_mb=128)
    executor.submit(try_of(path, "big_try"))
    finished = [e for e in collect(executor, 1) if isinstance(e, TaskFinishedEvent)]
    assert finished[0].state is TaskState.SUCCESS, finished[0].error


def test_a_changed_file_gets_a_new_zygote_and_the_old_one_exits(make_executor, tmp_path):
    dags, markers = folders(tmp_path)
    path = write_dag(dags, markers, "edited")
    executor = make_executor()
    executor.submit(try_of(path, "edited"))
    collect(executor, 1)
    (first,) = importers(markers, "edited")
    write_dag(dags, markers, "edited", "EDITED = True")
    later = time.time() + 5  # a new modification time, whatever the clock's granularity
    os.utime(path, (later, later))
    executor.submit(try_of(path, "edited", try_number=2))
    finished = [e for e in collect(executor, 1) if isinstance(e, TaskFinishedEvent)]
    assert finished[0].state is TaskState.SUCCESS
    (second,) = set(importers(markers, "edited")) - {first}
    assert json.loads(dict(finished[0].xcoms)["return_value"])["parent"] == second
    wait_until(lambda: not process_exists(first), 10, "the outdated zygote to exit")


def test_an_idle_zygote_is_retired_and_a_new_try_starts_another(make_executor, tmp_path):
    dags, markers = folders(tmp_path)
    path = write_dag(dags, markers, "idle")
    executor = make_executor(zygote_idle_s=0.5)
    executor.submit(try_of(path, "idle"))
    collect(executor, 1)
    (first,) = importers(markers, "idle")
    wait_until(lambda: not process_exists(first), 10, "the idle zygote to be retired")
    executor.submit(try_of(path, "idle", try_number=2))
    finished = [e for e in collect(executor, 1) if isinstance(e, TaskFinishedEvent)]
    assert finished[0].state is TaskState.SUCCESS
    assert len(importers(markers, "idle")) == 2


def test_stopping_leaves_no_process_behind(make_executor, tmp_path):
    dags, markers = folders(tmp_path)
    paths = [write_dag(dags, markers, name) for name in ("one", "two")]
    executor = make_executor()
    server = executor.fork_server_pid
    for path in paths:
        executor.submit(try_of(path, path.stem))
    collect(executor, 2)
    zygotes = importers(markers, "one") + importers(markers, "two")
    assert len(zygotes) == 2 and all(process_exists(pid) for pid in zygotes)
    executor.stop(timeout=10)
    for pid in [server, *zygotes]:
        wait_until(lambda pid=pid: not process_exists(pid), 10, f"process {pid} to exit")


def test_a_killed_zygote_does_not_lose_its_running_try(make_executor, tmp_path):
    dags, markers = folders(tmp_path)
    path = write_dag(dags, markers, "sleepy", "import time")
    path.write_text(path.read_text().replace(
        'return {"pid"', 'time.sleep(1.5)\n    return {"pid"'))
    executor = make_executor()
    executor.submit(try_of(path, "sleepy"))
    started = wait_until(lambda: [e for e in executor.drain_events()
                                  if isinstance(e, TaskStartedEvent)], 10, "the try to start")
    (zygote,) = importers(markers, "sleepy")
    os.kill(zygote, signal.SIGKILL)
    finished = [e for e in collect(executor, 1) if isinstance(e, TaskFinishedEvent)]
    assert finished[0].state is TaskState.SUCCESS, finished[0].error
    assert json.loads(dict(finished[0].xcoms)["return_value"])["pid"] == started[0].pid
