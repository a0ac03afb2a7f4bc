"""LocalExecutor with real processes: outcomes, crashes, timeouts, logs, parallelism and waking."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

import pytest

from millstream.executors.local import LocalExecutor
from millstream.model.states import TaskState
from millstream.processes import process_exists
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
from millstream.runtime.worker import try_log_path, write_result_file
from millstream.runtime.xcom import StoreXComReader
from millstream.store.records import TaskInstanceKey
from millstream.store.sql import SqlStore, make_engine
from millstream.store.sql.migrate import migrate

from .helpers import (
    DAG_ID,
    RUN_ID,
    collect,
    finished_events,
    memory_reader,
    read_pid,
    run_record,
    wait_until,
    workload,
)


def test_a_successful_try_reports_start_then_success_with_its_xcom(make_executor, dag_file):
    executor = make_executor()
    executor.submit(workload(dag_file, "ok"))
    events = collect(executor, 1)
    started, finished = events
    assert isinstance(started, TaskStartedEvent)
    assert started.key == TaskInstanceKey(DAG_ID, RUN_ID, "ok")
    assert started.pid is not None and started.pid != os.getpid()
    assert started.hostname
    assert isinstance(finished, TaskFinishedEvent)
    assert finished.state is TaskState.SUCCESS
    assert finished.xcoms == (("return_value", '{"rows":3}'),)
    assert finished.error is None
    assert finished.start_date <= finished.end_date
    assert not executor.has_work()
    assert executor.open_slots() == 4


def test_a_try_pulls_xcoms_through_a_reader_made_in_its_own_process(
    make_executor, dag_file, tmp_path
):
    url = f"sqlite:///{tmp_path / 'millstream.db'}"
    migrate(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    with store.transaction():
        store.runs.add(run_record())
        store.xcoms.set_many(TaskInstanceKey(DAG_ID, RUN_ID, "ok"),
                             [("return_value", '{"rows":7}')])
    store.close()
    engine.dispose()

    def reader_factory():  # runs in the try's process: a fresh engine there
        return StoreXComReader(SqlStore(make_engine(url)))

    executor = make_executor(reader_factory=reader_factory)
    executor.submit(workload(dag_file, "pull"))
    finished = finished_events(collect(executor, 1))["pull"]
    assert finished.state is TaskState.SUCCESS, finished.error
    assert finished.xcoms == (("return_value", "70"),)


def test_a_raising_task_is_up_for_retry_then_failed(make_executor, dag_file):
    executor = make_executor()
    executor.submit(workload(dag_file, "boom", try_number=1, max_tries=1))
    first = finished_events(collect(executor, 1))["boom"]
    assert first.state is TaskState.UP_FOR_RETRY
    assert "ValueError: boom on purpose" in (first.error or "")
    executor.submit(workload(dag_file, "boom", try_number=2, max_tries=1))
    second = finished_events(collect(executor, 1))["boom"]
    assert second.state is TaskState.FAILED
    assert second.try_number == 2


def test_a_segfault_is_a_failure_naming_the_signal_and_the_executor_goes_on(
    make_executor, dag_file
):
    executor = make_executor()
    server = executor.fork_server_pid
    crashing = workload(dag_file, "segfault")
    # A result left by an earlier run with the same run id must not be taken for this try's.
    moment = datetime.now(UTC)
    write_result_file(executor.log_folder, TaskFinishedEvent(
        crashing.key, 1, TaskState.SUCCESS, moment, moment))
    executor.submit(crashing)
    crashed = finished_events(collect(executor, 1))["segfault"]
    assert crashed.state is TaskState.FAILED
    assert "SIGSEGV" in (crashed.error or "")
    assert executor.fork_server_pid == server  # the fork server lived on
    log_text = try_log_path(executor.log_folder, crashed.key, 1).read_text()
    assert "Fatal Python error: Segmentation fault" in log_text  # where it crashed
    # The result's temporary file, created as the try started, went with the lost try.
    folder = try_log_path(executor.log_folder, crashed.key, 1).parent
    assert sorted(os.listdir(folder)) == ["1.log", "1.rendered.json", "1.result.json"]
    executor.submit(workload(dag_file, "ok"))
    assert finished_events(collect(executor, 1))["ok"].state is TaskState.SUCCESS


def test_os_exit_is_a_failure_naming_the_exit_code_or_a_retry(make_executor, dag_file):
    executor = make_executor()
    executor.submit(workload(dag_file, "hard_exit", max_tries=1))
    exited = finished_events(collect(executor, 1))["hard_exit"]
    assert exited.state is TaskState.UP_FOR_RETRY  # try 1 of 2
    assert "exited with code 3" in (exited.error or "")
    executor.submit(workload(dag_file, "ok"))
    assert finished_events(collect(executor, 1))["ok"].state is TaskState.SUCCESS
    # The crash's outcome was stored like any other, and its log says what happened.
    log_text = try_log_path(executor.log_folder, exited.key, 1).read_text()
    assert "exited with code 3" in log_text


def test_execution_timeout_fails_the_try_and_kills_its_child_processes(
    make_executor, dag_file, tmp_path
):
    executor = make_executor()
    pid_file = tmp_path / "child.pid"
    started_at = time.monotonic()
    executor.submit(workload(dag_file, "slow_with_child", params={"pid_file": str(pid_file)}))
    child = read_pid(pid_file)
    assert process_exists(child)
    finished = finished_events(collect(executor, 1, timeout=10))["slow_with_child"]
    assert time.monotonic() - started_at < 3.5
    assert finished.state is TaskState.FAILED
    assert "execution_timeout of 1 s" in (finished.error or "")
    wait_until(lambda: not process_exists(child), 2.0, "the task's child to be killed")


def test_a_try_ignoring_its_timeout_is_killed_by_the_fork_server(
    make_executor, dag_file, tmp_path
):
    executor = make_executor()
    pid_file = tmp_path / "child.pid"
    started_at = time.monotonic()
    executor.submit(workload(dag_file, "ignores_timeout", params={"pid_file": str(pid_file)}))
    child = read_pid(pid_file)
    finished = finished_events(collect(executor, 1, timeout=10))["ignores_timeout"]
    elapsed = time.monotonic() - started_at
    assert 2.5 < elapsed < 5.0  # 1 s timeout + 2 s grace
    assert finished.state is TaskState.FAILED
    assert "execution_timeout of 1 s" in (finished.error or "")
    assert "SIGKILL" in (finished.error or "")
    wait_until(lambda: not process_exists(child), 2.0, "the task's child to be killed")


def test_the_log_file_has_the_tasks_log_lines_prints_and_subprocess_output(
    make_executor, dag_file, log_folder
):
    executor = make_executor()
    executor.submit(workload(dag_file, "ok"))
    finished = finished_events(collect(executor, 1))["ok"]
    path = try_log_path(log_folder, finished.key, 1)
    # One folder per id; ':' and '+' of the run id are percent-encoded.
    assert path == (log_folder / DAG_ID / "manual__2026-01-01T00%3A00%3A00%2B00%3A00"
                    / "ok" / "1.log")
    text = path.read_text()
    assert "printed by the task" in text
    assert "logged by the task" in text
    assert "written by a subprocess" in text
    assert "Starting try 1 of ok" in text
    assert "ended: success" in text


def test_mapped_instances_log_to_a_folder_per_map_index(make_executor, dag_file, log_folder,
                                                        tmp_path):
    executor = make_executor()
    executor.submit(workload(dag_file, "record", map_index=3,
                             params={"folder": str(tmp_path), "seconds": 0}))
    finished = finished_events(collect(executor, 1))["record"]
    assert finished.state is TaskState.SUCCESS, finished.error
    assert finished.key.map_index == 3
    path = try_log_path(log_folder, finished.key, 1)
    assert path.parent.name == "map_index=3" and path.parent.parent.name == "record"
    assert path.is_file()


def test_parallelism_bounds_the_tries_running_at_once(make_executor, dag_file, tmp_path):
    executor = make_executor(parallelism=2)
    for index in range(5):
        executor.submit(workload(dag_file, "record", map_index=index,
                                 params={"folder": str(tmp_path), "seconds": 0.3}))
    assert executor.open_slots() == 0
    assert executor.has_work()
    # Waiting for a slot or not reported started yet, every try is the executor's.
    assert {key.map_index for key in executor.in_flight()} == {0, 1, 2, 3, 4}
    events = collect(executor, 5, timeout=30)
    assert all(e.state is TaskState.SUCCESS for e in events if isinstance(e, TaskFinishedEvent))
    assert _peak_running(tmp_path, 5) == 2
    assert executor.open_slots() == 2
    assert executor.in_flight() == set()


def _peak_running(folder, tries: int) -> int:
    """The most tries running at one moment, from the spans the ``record`` tasks wrote."""
    spans = [json.loads((folder / f"{i}.json").read_text()) for i in range(tries)]
    moments = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, change in moments:
        running += change
        peak = max(peak, running)
    return peak


def test_prefetched_tries_start_as_slots_free_with_parallelism_still_bounding_them(
    make_executor, dag_file, tmp_path
):
    executor = make_executor(parallelism=2, prefetch=3)
    assert executor.open_slots() == 5
    for index in range(5):
        executor.submit(workload(dag_file, "record", map_index=index,
                                 params={"folder": str(tmp_path), "seconds": 0.2}))
    assert executor.open_slots() == 0
    assert {key.map_index for key in executor.in_flight()} == {0, 1, 2, 3, 4}
    # Nothing more is submitted: the executor starts the prefetched tries on its own.
    events = collect(executor, 5, timeout=30)
    finished = [e for e in events if isinstance(e, TaskFinishedEvent)]
    assert sorted(e.key.map_index for e in finished) == [0, 1, 2, 3, 4]
    assert all(e.state is TaskState.SUCCESS for e in finished), finished
    assert _peak_running(tmp_path, 5) == 2
    assert executor.open_slots() == 5
    assert executor.in_flight() == set()


def test_a_negative_prefetch_is_refused(log_folder):
    with pytest.raises(ValueError, match="prefetch must be at least 0, got -1"):
        LocalExecutor(2, log_folder, memory_reader, prefetch=-1)


def test_wait_for_events_wakes_when_a_try_ends_and_times_out_when_idle(
    make_executor, dag_file
):
    executor = make_executor()
    before = time.monotonic()
    assert executor.wait_for_events(0.2) is False
    assert 0.19 <= time.monotonic() - before < 1.0
    executor.submit(workload(dag_file, "sleep_then_return", params={"seconds": 0.5}))
    finished = None
    while finished is None:
        assert executor.wait_for_events(10.0)
        woke = datetime.now(UTC)
        for event in executor.drain_events():
            if isinstance(event, TaskFinishedEvent):
                finished = event
    assert finished.state is TaskState.SUCCESS
    assert (woke - finished.end_date).total_seconds() < 0.2


def test_running_pids_and_terminate_kill_the_whole_process_group(
    make_executor, dag_file, tmp_path
):
    executor = make_executor()
    pid_file = tmp_path / "child.pid"
    task = workload(dag_file, "slow_with_child", params={"pid_file": str(pid_file)})
    executor.submit(task)
    child = read_pid(pid_file)
    events = []
    wait_until(lambda: events.extend(executor.drain_events()) or executor.running_pids(),
               5.0, "the try's start")
    pid = executor.running_pids()[task.key]
    assert process_exists(pid)
    executor.terminate(task.key)
    events += collect(executor, 1, timeout=5)
    finished = finished_events(events)["slow_with_child"]
    assert finished.state is TaskState.FAILED
    assert "terminated on request" in (finished.error or "")
    assert "SIGTERM" in (finished.error or "")
    wait_until(lambda: not process_exists(child), 2.0, "the task's child to be killed")
    assert executor.running_pids() == {}


def test_a_dag_file_that_fails_to_import_fails_the_try_with_its_error(
    make_executor, dag_file, tmp_path
):
    broken = tmp_path / "dags" / "broken.py"
    broken.write_text("from millstream import DAG\nraise RuntimeError('cannot import me')\n")
    executor = make_executor()
    executor.submit(workload(broken, "ok", max_tries=0))
    executor.submit(workload(dag_file, "no_such_task"))
    events = finished_events(collect(executor, 2))
    assert events["ok"].state is TaskState.FAILED
    assert "failed to import" in (events["ok"].error or "")
    assert "cannot import me" in (events["ok"].error or "")
    assert "has no task 'no_such_task'" in (events["no_such_task"].error or "")
    executor.submit(workload(dag_file, "ok"))
    assert finished_events(collect(executor, 1))["ok"].state is TaskState.SUCCESS


def test_a_changed_dag_file_is_imported_again(make_executor, tmp_path):
    path = tmp_path / "dags" / "changing.py"
    path.parent.mkdir()
    source = (
        "from datetime import datetime\n"
        "from millstream import DAG\n"
        "from millstream.operators.python import PythonOperator\n"
        "with DAG('executor_tasks', start_date=datetime(2026, 1, 1), schedule=None) as dag:\n"
        "    PythonOperator(task_id='ok', python_callable=lambda: {value})\n"
    )
    path.write_text(source.format(value=1))
    executor = make_executor()
    executor.submit(workload(path, "ok"))
    assert finished_events(collect(executor, 1))["ok"].xcoms == (("return_value", "1"),)
    path.write_text(source.format(value=22))
    stamp = path.stat().st_mtime_ns + 1_000_000
    os.utime(path, ns=(stamp, stamp))
    executor.submit(workload(path, "ok", try_number=2))
    assert finished_events(collect(executor, 1))["ok"].xcoms == (("return_value", "22"),)


def test_a_workload_without_a_dag_file_fails_without_a_process(make_executor, dag_file):
    executor = make_executor()
    anonymous = workload(dag_file, "ok")
    anonymous = TaskWorkload(anonymous.key, 1, 0, anonymous.run, {})
    executor.submit(anonymous)  # no file: nothing can load the DAG
    rejected = finished_events(collect(executor, 1))["ok"]
    assert rejected.state is TaskState.FAILED
    assert "no DAG file" in (rejected.error or "")


def test_a_killed_fork_server_is_replaced_and_its_running_try_still_reported(
    make_executor, dag_file
):
    executor = make_executor()
    task = workload(dag_file, "sleep_then_return", params={"seconds": 1.0})
    executor.submit(task)
    events = []
    wait_until(lambda: events.extend(executor.drain_events()) or executor.running_pids(),
               5.0, "the try's start")
    old_server = executor.fork_server_pid
    assert old_server is not None
    os.kill(old_server, 9)
    events += collect(executor, 1, timeout=10)
    finished = finished_events(events)["sleep_then_return"]
    assert finished.state is TaskState.SUCCESS
    assert finished.xcoms == (("return_value", '"slept"'),)
    assert executor.fork_server_pid not in (None, old_server)
    executor.submit(workload(dag_file, "ok"))
    assert finished_events(collect(executor, 1))["ok"].state is TaskState.SUCCESS


def test_one_try_after_another_hands_off_in_milliseconds(make_executor, dag_file, tmp_path):
    """Not a benchmark: a generous bound that catches a sleep or poll interval in the path."""
    executor = make_executor(parallelism=1)
    handoffs = []
    previous_end = None
    for index in range(20):
        executor.submit(workload(dag_file, "record", map_index=index,
                                 params={"folder": str(tmp_path), "seconds": 0}))
        for event in collect(executor, 1):
            if isinstance(event, TaskStartedEvent) and previous_end is not None:
                handoffs.append((event.start_date - previous_end).total_seconds())
            elif isinstance(event, TaskFinishedEvent):
                previous_end = event.end_date
    handoffs.sort()
    assert handoffs[len(handoffs) // 2] < 0.05, handoffs


def test_a_dag_file_that_never_finishes_importing_fails_the_try_not_the_server(
    dag_file, log_folder, tmp_path
):
    endless = tmp_path / "dags" / "endless.py"
    endless.write_text("from millstream import DAG\nwhile True:\n    pass\n")
    executor = LocalExecutor(1, log_folder, memory_reader, dag_import_timeout=0.5)
    executor.start()
    try:
        executor.submit(workload(endless, "ok"))
        hung = finished_events(collect(executor, 1, timeout=10))["ok"]
        assert hung.state is TaskState.FAILED
        assert "took longer than 0.5 s to import" in (hung.error or "")
        executor.submit(workload(dag_file, "ok"))
        assert finished_events(collect(executor, 1))["ok"].state is TaskState.SUCCESS
    finally:
        executor.stop(timeout=5.0, kill=True)


def test_workloads_submitted_in_a_batch_start_when_the_batch_ends(make_executor, dag_file):
    executor = make_executor()
    with executor.batched():
        executor.submit(workload(dag_file, "ok"))
        # Nothing has reached the fork server yet: no try can start, whatever we wait.
        assert not executor.wait_for_events(0.5)
        assert executor.running_pids() == {}
        assert executor.has_work()
    finished = finished_events(collect(executor, 1))
    assert finished["ok"].state is TaskState.SUCCESS
