"""BashOperator running real bash: output, environment, templates, exit codes, timeouts."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from millstream import DAG
from millstream.operators.bash import BashOperator
from millstream.operators.empty import EmptyOperator


def _run(command: str, dag_kwargs=None, conf=None, **kwargs):
    with DAG("bash", **(dag_kwargs or {})) as the_dag:
        BashOperator(task_id="b", bash_command=command, **kwargs)
    return the_dag.test(logical_date="2026-06-30", conf=conf, fast_retries=True)


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _wait_dead(pid: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _running(pid):
            return True
        time.sleep(0.02)
    return False


def test_last_line_of_output_is_the_xcom_value():
    result = _run("echo first; echo; echo last")
    assert result.task_states == {"b": "success"}
    assert result.xcom_pull("b") == "last"


def test_output_without_a_final_newline_and_long_output():
    assert _run("printf 'one\\ntwo'").xcom_pull("b") == "two"
    result = _run("seq 1 20000; printf '%05000d\\n' 7")
    assert result.xcom_pull("b") == "0" * 4999 + "7"


def test_a_trailing_empty_line_is_the_last_line():
    assert _run("echo text; echo").xcom_pull("b") == ""


def test_stderr_is_part_of_the_output():
    assert _run("echo out; echo err >&2").xcom_pull("b") == "err"


def test_no_output_pushes_nothing():
    result = _run("true")
    assert result.task_states == {"b": "success"}
    assert result.xcom_pull("b") is None


def test_do_xcom_push_false():
    assert _run("echo hidden", do_xcom_push=False).xcom_pull("b") is None


def test_bash_features_work():
    result = _run("set -o pipefail; for i in 1 2 3; do echo $((i * 2)); done | tail -n 1")
    assert result.xcom_pull("b") == "6"


def test_env_replaces_the_environment(monkeypatch):
    monkeypatch.setenv("MILLSTREAM_TEST_OUTER", "outer")
    result = _run('echo "${MILLSTREAM_TEST_OUTER:-unset}/$ONLY"', env={"ONLY": "inner"})
    assert result.xcom_pull("b") == "unset/inner"


def test_append_env_adds_to_the_environment(monkeypatch):
    monkeypatch.setenv("MILLSTREAM_TEST_OUTER", "outer")
    result = _run('echo "$MILLSTREAM_TEST_OUTER/$ONLY"', env={"ONLY": "inner"},
                  append_env=True)
    assert result.xcom_pull("b") == "outer/inner"


def test_without_env_the_environment_is_inherited(monkeypatch):
    monkeypatch.setenv("MILLSTREAM_TEST_OUTER", "inherited")
    assert _run('echo "$MILLSTREAM_TEST_OUTER"').xcom_pull("b") == "inherited"


def test_env_values_are_templated_and_stringified():
    result = _run('echo "$DAY $COUNT"', env={"DAY": "{{ ds }}", "COUNT": 3})
    assert result.xcom_pull("b") == "2026-06-30 3"


def test_run_context_is_exported_to_the_command():
    result = _run('echo "$MILLSTREAM_CTX_DAG_ID $MILLSTREAM_CTX_TASK_ID $MILLSTREAM_CTX_RUN_ID"')
    assert result.xcom_pull("b") == "bash b manual__2026-06-30T00:00:00+00:00"


def test_cwd_sets_the_working_directory(tmp_path: Path):
    (tmp_path / "marker.txt").write_text("here")
    result = _run("pwd; cat marker.txt", cwd=str(tmp_path))
    assert result.xcom_pull("b") == "here"


def test_cwd_is_templated(tmp_path: Path):
    (tmp_path / "2026-06-30").mkdir()
    result = _run("basename $(pwd)", cwd=str(tmp_path) + "/{{ ds }}")
    assert result.xcom_pull("b") == "2026-06-30"


def test_a_missing_cwd_fails_the_task_naming_it(tmp_path: Path):
    missing = tmp_path / "nowhere"
    result = _run("echo hi", cwd=str(missing))
    assert result.task_states == {"b": "failed"}
    assert f"cwd {str(missing)!r} is not a directory" in result.tasks[0].error


def test_command_templates_use_the_run_context():
    result = _run("echo {{ ds }} {{ ds_nodash }} {{ params.who }} {{ macros.ds_add(ds, 1) }}",
                  dag_kwargs={"params": {"who": "me"}})
    assert result.xcom_pull("b") == "2026-06-30 20260630 me 2026-07-01"


def test_an_undefined_template_name_fails_the_task_naming_the_field():
    result = _run("echo {{ dss }}")
    assert result.task_states == {"b": "failed"}
    assert "field 'bash_command'" in result.tasks[0].error
    assert "'dss' is undefined" in result.tasks[0].error


def test_exit_code_99_skips_the_task_and_its_downstream():
    with DAG("skip99") as the_dag:
        b = BashOperator(task_id="b", bash_command="echo bye; exit 99", retries=2)
        after = EmptyOperator(task_id="after")
        b >> after
    result = the_dag.test(logical_date="2026-01-01", fast_retries=True)
    assert result.state == "success"
    assert result.task_states == {"b": "skipped", "after": "skipped"}
    assert result.tasks[0].tries == 1
    assert result.xcom_pull("b") is None


@pytest.mark.parametrize("code", [1, 2, 100, 127])
def test_other_non_zero_exit_codes_fail_the_task(code):
    result = _run(f"echo partial; exit {code}")
    assert result.state == "failed"
    assert result.task_states == {"b": "failed"}
    assert f"task 'b': bash command exited with code {code}" in result.tasks[0].error
    assert result.xcom_pull("b") is None


def test_a_failing_command_is_retried():
    result = _run("exit 3", retries=2)
    assert result.task_states == {"b": "failed"}
    assert result.tasks[0].tries == 3


def test_custom_skip_exit_codes():
    assert _run("exit 3", skip_on_exit_code=[3, 4]).task_states == {"b": "skipped"}
    assert _run("exit 99", skip_on_exit_code=[3, 4]).task_states == {"b": "failed"}
    assert _run("exit 99", skip_on_exit_code=None).task_states == {"b": "failed"}
    assert _run("exit 7", skip_on_exit_code=7).task_states == {"b": "skipped"}


def test_a_script_file_is_a_template_found_in_the_dag_folder(tmp_path: Path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "job.sh").write_text('echo "job {{ ds }} $MODE"\nexit 0\n')
    result = _run("scripts/job.sh", dag_kwargs={"fileloc": str(tmp_path / "dag.py")},
                  env={"MODE": "file"})
    assert result.task_states == {"b": "success"}, result.tasks[0].error
    assert result.xcom_pull("b") == "job 2026-06-30 file"


def test_a_script_file_found_through_template_searchpath(tmp_path: Path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "report.bash").write_text("echo report for {{ params.team }}\n")
    result = _run("report.bash", dag_kwargs={"fileloc": str(tmp_path / "elsewhere" / "dag.py"),
                                             "template_searchpath": [str(shared)],
                                             "params": {"team": "ops"}})
    assert result.xcom_pull("b") == "report for ops"


def test_a_missing_script_file_fails_naming_it(tmp_path: Path):
    result = _run("absent.sh", dag_kwargs={"fileloc": str(tmp_path / "dag.py")})
    assert result.task_states == {"b": "failed"}
    assert "'absent.sh'" in result.tasks[0].error
    assert "field 'bash_command'" in result.tasks[0].error


def test_a_trailing_space_runs_a_script_instead_of_templating_it(tmp_path: Path):
    script = tmp_path / "raw.sh"
    script.write_text('echo "raw {{ ds }}"\n')
    script.chmod(0o755)
    result = _run(f"{script} ", dag_kwargs={"fileloc": str(tmp_path / "dag.py")})
    assert result.task_states == {"b": "success"}, result.tasks[0].error
    assert result.xcom_pull("b") == "raw {{ ds }}"


def test_execution_timeout_kills_the_command_and_its_background_children(tmp_path: Path):
    pid_file = tmp_path / "child.pid"
    command = f"sleep 30 & echo $! > {pid_file}; echo started; wait"
    started = time.monotonic()
    result = _run(command, execution_timeout=timedelta(seconds=0.5))
    assert time.monotonic() - started < 5
    assert result.task_states == {"b": "failed"}
    assert "task 'b' exceeded its execution_timeout of 0.5 s" in result.tasks[0].error
    child = int(pid_file.read_text())
    assert _wait_dead(child), f"background sleep {child} survived the timeout"


def test_execution_timeout_kills_children_that_outlive_bash(tmp_path: Path):
    # bash exits at once; the background sleep keeps the output pipe open
    pid_file = tmp_path / "child.pid"
    result = _run(f"sleep 30 & echo $! > {pid_file}; echo detached",
                  execution_timeout=timedelta(seconds=0.5))
    assert result.task_states == {"b": "failed"}
    child = int(pid_file.read_text())
    assert _wait_dead(child), f"background sleep {child} survived the timeout"


def test_execution_timeout_kills_a_child_that_ignores_sigterm(tmp_path: Path):
    pid_file = tmp_path / "child.pid"
    command = f"(trap '' TERM; sleep 30) & echo $! > {pid_file}; wait"
    started = time.monotonic()
    result = _run(command, execution_timeout=timedelta(seconds=0.3))
    assert result.task_states == {"b": "failed"}
    child = int(pid_file.read_text())
    assert _wait_dead(child, within=5), f"subshell {child} ignoring SIGTERM survived"
    assert time.monotonic() - started < 8


def test_timed_out_children_get_sigterm_and_time_to_clean_up(tmp_path: Path):
    marker = tmp_path / "cleaned"
    # the subshell needs a moment after SIGTERM to clean up, while bash itself dies at once
    command = (f"(trap 'sleep 0.3; echo bye > {marker}; exit 0' TERM; sleep 30 & wait) & "
               "echo started; wait")
    result = _run(command, execution_timeout=timedelta(seconds=0.3))
    assert result.task_states == {"b": "failed"}
    assert marker.read_text() == "bye\n"


def test_execution_timeout_stops_a_silent_command_when_run_off_the_main_thread(tmp_path: Path):
    # executors may run tasks in worker threads, where no SIGALRM can interrupt a read
    pid_file = tmp_path / "child.pid"
    outcome = {}

    def run() -> None:
        started = time.monotonic()
        outcome["result"] = _run(f"sleep 30 & echo $! > {pid_file}; wait",
                                 execution_timeout=timedelta(seconds=0.3))
        outcome["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=15)
    assert not worker.is_alive()
    assert outcome["seconds"] < 5
    assert outcome["result"].task_states == {"b": "failed"}
    assert "exceeded its execution_timeout" in outcome["result"].tasks[0].error
    assert _wait_dead(int(pid_file.read_text()))


def test_a_command_within_its_timeout_succeeds():
    result = _run("sleep 0.1; echo done", execution_timeout=timedelta(seconds=5))
    assert result.task_states == {"b": "success"}
    assert result.xcom_pull("b") == "done"


def test_the_command_runs_in_its_own_process_group():
    # field 5 of /proc/<pid>/stat is the process group id
    result = _run("echo $(cut -d' ' -f5 /proc/$$/stat) $$")
    pgid, pid = result.xcom_pull("b").split()
    assert pgid == pid  # bash leads a new group, so a timeout can kill all of it
    assert int(pgid) != os.getpgrp()
