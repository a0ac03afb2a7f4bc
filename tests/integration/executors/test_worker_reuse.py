"""Workers that run many tries: reuse, replacement of unhealthy workers, kills and timeouts.

Every task returns the pid of the process that ran it, so the tests see which tries
shared a worker.
"""

from __future__ import annotations

import json
import os
import signal
import textwrap
from pathlib import Path
from typing import Any

import pytest

from millstream.model.states import TaskState
from millstream.processes import process_exists
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
from millstream.runtime.worker import try_log_path
from millstream.store.records import TaskInstanceKey

from .helpers import ExecutorFactory, collect, read_pid, run_record, wait_until

DAG_ID = "reuse"

REUSE_DAG = textwrap.dedent(
    '''
    import os
    import subprocess
    import sys
    import threading
    import time
    from datetime import datetime, timedelta
    from pathlib import Path

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    COUNTER = {"tries": 0}


    def where(params):
        COUNTER["tries"] += 1
        if params.get("pid_file"):
            Path(params["pid_file"]).write_text(str(os.getpid()))
        time.sleep(params.get("seconds", 0))
        return {"pid": os.getpid(), "parent": os.getppid(), "seen": COUNTER["tries"]}


    def leave_thread():
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        return {"pid": os.getpid()}


    def leave_child(params):
        child = subprocess.Popen(["sleep", "60"], start_new_session=params["session"])
        Path(params["pid_file"]).write_text(str(child.pid))
        return {"pid": os.getpid()}


    def change_folder():
        os.chdir("/")
        return {"pid": os.getpid()}


    def change_environment():
        os.environ["MILLSTREAM_TEST_LEFT_BEHIND"] = "1"
        return {"pid": os.getpid()}


    def change_path():
        sys.path.append("/nowhere")
        return {"pid": os.getpid()}


    def change_limits():
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
        return {"pid": os.getpid()}


    def leave_files_open():
        KEPT.extend(open(os.devnull) for _ in range(40))
        return {"pid": os.getpid()}


    KEPT = []


    def talk(params):
        import logging

        print(f"printed by {params['word']}")
        logging.getLogger("user").warning("logged by %s", params["word"])
        # What the next try in this worker must not inherit:
        if params.get("mess_up") == "handler":
            logging.getLogger().handlers[0].setLevel(logging.CRITICAL)
            logging.getLogger().handlers[0].addFilter(lambda record: False)
        elif params.get("mess_up") == "stdout":
            sys.stdout = open(os.devnull, "w")
        return {"pid": os.getpid()}


    def hoard():
        KEPT.append(bytearray(96 * 1024 * 1024))
        return {"pid": os.getpid()}


    def hang_with_child(params):
        child = subprocess.Popen(["sleep", "60"])
        Path(params["pid_file"]).write_text(f"{os.getpid()} {child.pid}")
        time.sleep(30)


    with DAG("reuse", start_date=datetime(2026, 1, 1), schedule=None) as dag:
        PythonOperator(task_id="where", python_callable=where)
        PythonOperator(task_id="leave_thread", python_callable=leave_thread)
        PythonOperator(task_id="leave_child", python_callable=leave_child)
        PythonOperator(task_id="change_folder", python_callable=change_folder)
        PythonOperator(task_id="change_environment", python_callable=change_environment)
        PythonOperator(task_id="change_path", python_callable=change_path)
        PythonOperator(task_id="change_limits", python_callable=change_limits)
        PythonOperator(task_id="leave_files_open", python_callable=leave_files_open)
        PythonOperator(task_id="hoard", python_callable=hoard)
        PythonOperator(task_id="talk", python_callable=talk)
        PythonOperator(task_id="hang_with_child", python_callable=hang_with_child,
                       execution_timeout=timedelta(seconds=1))
    '''
)


@pytest.fixture
def reuse_file(tmp_path: Path) -> Path:
    path = tmp_path / "dags" / "reuse.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(REUSE_DAG)
    return path


def a_try(path: Path, task_id: str, index: int = 0, try_number: int = 1, max_tries: int = 0,
          **params: Any) -> TaskWorkload:
    key = TaskInstanceKey(DAG_ID, f"manual__{index}", task_id)
    return TaskWorkload(key, try_number, max_tries, run_record(f"manual__{index}"), params,
                        str(path))


def run_one(executor: Any, workload: TaskWorkload) -> TaskFinishedEvent:
    executor.submit(workload)
    (finished,) = [e for e in collect(executor, 1) if isinstance(e, TaskFinishedEvent)]
    return finished


def returned(event: TaskFinishedEvent) -> dict[str, Any]:
    assert event.state is TaskState.SUCCESS, event.error
    value: dict[str, Any] = json.loads(dict(event.xcoms)["return_value"])
    return value


def test_tries_one_after_another_run_in_the_same_worker(make_executor: ExecutorFactory,
                                                          reuse_file: Path) -> None:
    executor = make_executor(parallelism=1, tries_per_process=3)
    seen = [returned(run_one(executor, a_try(reuse_file, "where", i))) for i in range(4)]
    pids = [s["pid"] for s in seen]
    assert pids[0] == pids[1] == pids[2] != pids[3]  # three tries, then a new worker
    third = try_log_path(executor.log_folder, TaskInstanceKey(DAG_ID, "manual__2", "where"), 1)
    assert "runs no more tries: it ran 3 tries (executor.tries_per_process)" in third.read_text()
    assert len({s["parent"] for s in seen}) == 1  # every worker a fork of the one zygote
    assert seen[0]["parent"] != executor.fork_server_pid
    # What a try leaves in the DAG file's module is seen by the next try in the worker.
    assert [s["seen"] for s in seen] == [1, 2, 3, 1]
    # Each try still logs to its own file.
    for i in range(4):
        text = try_log_path(executor.log_folder, TaskInstanceKey(DAG_ID, f"manual__{i}",
                                                                 "where"), 1).read_text()
        assert f"run manual__{i} " in text and f"manual__{i + 1} " not in text


def test_each_try_in_a_worker_prints_and_logs_to_its_own_log_whatever_the_last_did(
        make_executor: ExecutorFactory, reuse_file: Path) -> None:
    executor = make_executor(parallelism=1, tries_per_process=5)
    words = ["one", "two", "three"]
    mess = {"one": "handler", "two": "stdout", "three": None}
    pids = {returned(run_one(executor, a_try(reuse_file, "talk", i, word=word,
                                             mess_up=mess[word])))["pid"]
            for i, word in enumerate(words)}
    assert len(pids) == 1  # the same worker ran all three
    for i, word in enumerate(words):
        text = try_log_path(executor.log_folder, TaskInstanceKey(DAG_ID, f"manual__{i}",
                                                                 "talk"), 1).read_text()
        assert f"printed by {word}\n" in text and f"logged by {word}\n" in text, text
        assert f"run manual__{i} " in text
        # The first try silenced its own handler before its last line; the next ones not.
        assert ("Try 1 of talk ended: success" in text) == (word != "one")
        assert not [other for other in words if other != word and f"by {other}" in text]


def test_one_try_per_process_forks_a_process_for_every_try(make_executor: ExecutorFactory,
                                                            reuse_file: Path) -> None:
    executor = make_executor(parallelism=1, tries_per_process=1)
    seen = [returned(run_one(executor, a_try(reuse_file, "where", i))) for i in range(3)]
    assert len({s["pid"] for s in seen}) == 3
    assert len({s["parent"] for s in seen}) == 1
    assert [s["seen"] for s in seen] == [1, 1, 1]  # each a fresh fork of the zygote


def test_concurrent_tries_run_in_different_workers(make_executor: ExecutorFactory,
                                                   reuse_file: Path) -> None:
    executor = make_executor(parallelism=3)
    for i in range(3):
        executor.submit(a_try(reuse_file, "where", i, seconds=0.5))
    finished = [e for e in collect(executor, 3) if isinstance(e, TaskFinishedEvent)]
    assert len({returned(e)["pid"] for e in finished}) == 3


@pytest.mark.parametrize(("task_id", "reason"), [
    ("leave_thread", "left threads running"),
    ("change_folder", "changed the working folder"),
    ("change_environment", "changed the environment variables"),
    ("change_path", "changed sys.path"),
    ("change_limits", "changed resource limits"),
    ("leave_files_open", "more files open"),
])
def test_a_worker_a_try_leaves_changed_is_replaced(make_executor: ExecutorFactory,
                                                   reuse_file: Path, task_id: str,
                                                   reason: str) -> None:
    executor = make_executor(parallelism=1)
    first = returned(run_one(executor, a_try(reuse_file, "where", 0)))
    changed_try = run_one(executor, a_try(reuse_file, task_id, 1))
    changed = returned(changed_try)
    assert changed["pid"] == first["pid"]  # a healthy worker ran it
    log = try_log_path(executor.log_folder, changed_try.key, 1)
    # The worker checks itself after it has said the try ended: the line follows shortly.
    said = f"Worker process {changed['pid']} runs no more tries: "
    wait_until(lambda: said in log.read_text(), 5, f"the worker to say why it stops ({reason})")
    assert reason in log.read_text()
    wait_until(lambda: not process_exists(first["pid"]), 5, f"the worker to go ({reason})")
    after = returned(run_one(executor, a_try(reuse_file, "where", 2)))
    assert after["pid"] != first["pid"]
    assert after["seen"] == 1  # a fresh fork of the zygote


@pytest.mark.parametrize("session", [False, True])
def test_a_worker_with_a_child_left_running_is_replaced(
    make_executor: ExecutorFactory, reuse_file: Path, tmp_path: Path, session: bool,
) -> None:
    executor = make_executor(parallelism=1)
    pid_file = tmp_path / "child.pid"
    leaver = returned(run_one(executor, a_try(reuse_file, "leave_child", 0,
                                              pid_file=str(pid_file), session=session)))
    child = read_pid(pid_file)
    wait_until(lambda: not process_exists(leaver["pid"]), 5, "the worker to go")
    log_text = try_log_path(executor.log_folder, TaskInstanceKey(DAG_ID, "manual__0",
                                                                 "leave_child"), 1).read_text()
    assert "the try left child processes running" in log_text
    after = returned(run_one(executor, a_try(reuse_file, "where", 1)))
    assert after["pid"] != leaver["pid"]
    if session:  # a session of its own outlives the try, as it would a process per try
        assert process_exists(child)
        os.kill(child, signal.SIGKILL)
    else:  # killed with the worker's process group, as with a process per try
        wait_until(lambda: not process_exists(child), 5, "the child left behind to be killed")


def test_a_worker_whose_memory_grew_past_its_cap_is_replaced(make_executor: ExecutorFactory,
                                                              reuse_file: Path) -> None:
    executor = make_executor(parallelism=1, worker_memory_growth_mb=32)
    first = returned(run_one(executor, a_try(reuse_file, "where", 0)))
    grew = run_one(executor, a_try(reuse_file, "hoard", 1))
    assert returned(grew)["pid"] == first["pid"]  # a worker within its cap is reused
    after = returned(run_one(executor, a_try(reuse_file, "where", 2)))
    assert after["pid"] != first["pid"]
    log_text = try_log_path(executor.log_folder, grew.key, 1).read_text()
    assert "more than 32 MB (executor.max_memory_growth_mb)" in log_text


def test_kill_9_of_a_worker_mid_try_retries_that_try_only(make_executor: ExecutorFactory,
                                                          reuse_file: Path,
                                                          tmp_path: Path) -> None:
    executor = make_executor(parallelism=2)
    warm = returned(run_one(executor, a_try(reuse_file, "where", 0)))
    pid_file = tmp_path / "victim.pid"
    victim = a_try(reuse_file, "where", 1, max_tries=1, pid_file=str(pid_file), seconds=30)
    bystander = a_try(reuse_file, "where", 2, seconds=1.0)
    executor.submit(victim)
    executor.submit(bystander)
    worker = read_pid(pid_file)
    assert worker == warm["pid"]  # the idle worker took the first of them
    os.kill(worker, signal.SIGKILL)
    done = {e.key: e for e in collect(executor, 2) if isinstance(e, TaskFinishedEvent)}
    killed = done[victim.key]
    assert killed.state is TaskState.UP_FOR_RETRY  # it has a try left
    assert "SIGKILL" in (killed.error or "")
    assert returned(done[bystander.key])["pid"] != worker
    retried = run_one(executor, a_try(reuse_file, "where", 1, try_number=2, max_tries=1))
    assert returned(retried)["pid"] != worker


def test_execution_timeout_kills_the_workers_tree_and_a_new_worker_runs_the_next_try(
    make_executor: ExecutorFactory, reuse_file: Path, tmp_path: Path,
) -> None:
    executor = make_executor(parallelism=1)
    warm = returned(run_one(executor, a_try(reuse_file, "where", 0)))
    pid_file = tmp_path / "pids"
    executor.submit(a_try(reuse_file, "hang_with_child", 1, pid_file=str(pid_file)))
    text = wait_until(lambda: pid_file.exists() and pid_file.read_text(), 10, "the pids")
    worker, child = (int(part) for part in text.split())
    assert worker == warm["pid"]
    events = collect(executor, 1, timeout=15)
    started = [e for e in events if isinstance(e, TaskStartedEvent)]
    assert started and started[0].pid == worker
    (finished,) = [e for e in events if isinstance(e, TaskFinishedEvent)]
    assert finished.state is TaskState.FAILED
    assert "execution_timeout of 1 s" in (finished.error or "")
    wait_until(lambda: not process_exists(child), 5, "the try's child to be killed")
    wait_until(lambda: not process_exists(worker), 5, "the timed out worker to go")
    after = returned(run_one(executor, a_try(reuse_file, "where", 2)))
    assert after["pid"] != worker and after["seen"] == 1


def test_the_scheduler_gives_its_executor_the_executor_settings(tmp_path: Path) -> None:
    from millstream.cli.engine import scheduler_job
    from millstream.config import load_settings

    environ = {"MILLSTREAM__EXECUTOR__TRIES_PER_PROCESS": "1"}
    with scheduler_job(load_settings(tmp_path, environ=environ)) as job:
        assert job.executor.tries_per_process == 1  # type: ignore[attr-defined]
    with scheduler_job(load_settings(tmp_path, environ={})) as job:
        assert job.executor.tries_per_process == 1000  # type: ignore[attr-defined]
        assert job.executor.prefetch == 8  # type: ignore[attr-defined]  # parallelism x 1
    environ = {"MILLSTREAM__EXECUTOR__PREFETCH_MULTIPLIER": "2",
               "MILLSTREAM__SCHEDULER__PARALLELISM": "3"}
    with scheduler_job(load_settings(tmp_path, environ=environ)) as job:
        assert job.executor.prefetch == 6  # type: ignore[attr-defined]
        assert job.executor.open_slots() == 9
    environ = {"MILLSTREAM__EXECUTOR__PREFETCH_MULTIPLIER": "0"}
    with scheduler_job(load_settings(tmp_path, environ=environ)) as job:
        assert job.executor.open_slots() == 8


@pytest.mark.parametrize("option", ["tries_per_process", "worker_memory_growth_mb"])
def test_less_than_one_try_or_megabyte_is_refused(tmp_path: Path, option: str) -> None:
    from millstream.executors.local import LocalExecutor

    from .helpers import memory_reader

    with pytest.raises(ValueError, match=f"{option} must be at least 1, got 0"):
        LocalExecutor(1, tmp_path, memory_reader, **{option: 0})
