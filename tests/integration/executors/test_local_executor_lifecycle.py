"""Starting and stopping the local executor, and tries that outlive it (result-file adoption)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from millstream.executors.local import LocalExecutor, read_result_file
from millstream.model.states import TaskState
from millstream.processes import process_exists
from millstream.runtime.events import TaskFinishedEvent
from millstream.runtime.events_json import to_json

from .helpers import (
    collect,
    finished_events,
    memory_reader,
    read_pid,
    wait_until,
    workload,
)


def _wait_started(executor: LocalExecutor, count: int) -> dict:
    return wait_until(
        lambda: len(executor.running_pids()) >= count and executor.running_pids(),
        10.0, f"{count} tries to start",
    )


def test_stop_waits_for_running_tries_and_keeps_their_events(make_executor, dag_file):
    executor = make_executor()
    executor.submit(workload(dag_file, "sleep_then_return", params={"seconds": 0.5}))
    server = executor.fork_server_pid
    executor.stop(timeout=10.0)
    assert executor.fork_server_pid is None
    finished = finished_events(executor.drain_events())["sleep_then_return"]
    assert finished.state is TaskState.SUCCESS
    assert server is not None and not process_exists(server)
    assert not executor.has_work()


def test_stop_with_kill_leaves_no_process_behind(make_executor, dag_file, tmp_path):
    executor = make_executor(parallelism=3)
    pid_file = tmp_path / "child.pid"
    executor.submit(workload(dag_file, "slow_with_child", params={"pid_file": str(pid_file)}))
    executor.submit(workload(dag_file, "sleep_then_return", params={"seconds": 30}))
    executor.submit(workload(dag_file, "ok"))
    child = read_pid(pid_file)
    tries = _wait_started(executor, 2)
    server = executor.fork_server_pid
    assert server is not None
    executor.stop(timeout=0.2, kill=True)
    for pid in [server, child, *tries.values()]:
        assert not process_exists(pid), f"process {pid} is still alive"
    events = finished_events(executor.drain_events())
    assert events["ok"].state is TaskState.SUCCESS
    assert events["sleep_then_return"].state is TaskState.FAILED
    assert "killed because the executor was stopping" in (events["sleep_then_return"].error
                                                           or "")
    assert "SIGKILL" in (events["sleep_then_return"].error or "")
    assert executor.running_pids() == {}
    assert executor.open_slots() == 3


def test_an_executor_can_start_again_after_stopping(make_executor, dag_file):
    executor = make_executor()
    first = executor.fork_server_pid
    executor.stop(timeout=5.0)
    executor.start()
    assert executor.fork_server_pid not in (None, first)
    executor.submit(workload(dag_file, "ok"))
    assert finished_events(collect(executor, 1))["ok"].state is TaskState.SUCCESS


def test_a_try_left_running_by_stop_leaves_its_result_for_adoption(
    make_executor, dag_file, log_folder
):
    executor = make_executor()
    task = workload(dag_file, "sleep_then_return", params={"seconds": 1.0})
    executor.submit(task)
    pid = _wait_started(executor, 1)[task.key]
    server = executor.fork_server_pid
    assert server is not None
    executor.stop(timeout=0.05)  # no kill: the try goes on without the executor
    assert executor.fork_server_pid is None
    assert process_exists(pid)
    assert read_result_file(log_folder, task.key, 1) is None
    adopted = wait_until(lambda: read_result_file(log_folder, task.key, 1), 10.0,
                         "the try's result file")
    assert isinstance(adopted, TaskFinishedEvent)
    assert adopted.state is TaskState.SUCCESS
    assert adopted.xcoms == (("return_value", '"slept"'),)
    # With its last try done, the fork server exits by itself.
    wait_until(lambda: not process_exists(server), 5.0, "the fork server to exit")


def test_when_the_scheduler_dies_the_try_finishes_and_the_fork_server_exits(
    dag_file, log_folder, tmp_path
):
    task = workload(dag_file, "sleep_then_return", params={"seconds": 1.0})
    script = tmp_path / "scheduler.py"
    script.write_text(textwrap.dedent(
        f"""
        import json, os, signal
        from millstream.executors.local import LocalExecutor
        from millstream.runtime.events_json import from_json
        from millstream.store.memory import MemoryStore

        executor = LocalExecutor(2, {str(log_folder)!r}, lambda: MemoryStore().xcoms)
        executor.start()
        task = from_json({to_json(task)!r})
        executor.submit(task)
        while not executor.running_pids():
            executor.wait_for_events(5.0)
            executor.drain_events()
        print(json.dumps({{"server": executor.fork_server_pid,
                          "try": executor.running_pids()[task.key]}}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    ))
    scheduler = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE)
    assert scheduler.stdout is not None
    line = scheduler.stdout.readline()
    scheduler.wait(timeout=10)
    scheduler.stdout.close()
    pids = json.loads(line)
    assert process_exists(pids["server"]) and process_exists(pids["try"])
    adopted = wait_until(lambda: read_result_file(log_folder, task.key, 1), 10.0,
                         "the try's result file")
    assert adopted.state is TaskState.SUCCESS
    wait_until(lambda: not process_exists(pids["server"]), 5.0, "the fork server to exit")
    assert not process_exists(pids["try"])


def test_an_unstarted_executor_starts_on_first_submit_and_stop_is_idempotent(
    dag_file, log_folder
):
    executor = LocalExecutor(1, log_folder, memory_reader)
    assert executor.fork_server_pid is None
    assert not executor.wait_for_events(0.01)
    try:
        executor.submit(workload(dag_file, "ok"))
        assert executor.fork_server_pid is not None
        assert finished_events(collect(executor, 1))["ok"].state is TaskState.SUCCESS
    finally:
        executor.stop(timeout=5.0, kill=True)
        executor.stop(timeout=5.0, kill=True)
    assert executor.fork_server_pid is None
