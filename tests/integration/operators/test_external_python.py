"""Callables run in another interpreter: ExternalPythonOperator, PythonVirtualenvOperator
and their decorators, in real child processes and real virtualenvs."""

from __future__ import annotations

import sys
from pathlib import Path

from millstream import DAG, task
from millstream.operators.empty import EmptyOperator
from millstream.operators.external_python import (
    BranchExternalPythonOperator,
    ExternalPythonOperator,
    PythonVirtualenvOperator,
)


def _test(the_dag: DAG):
    return the_dag.test(logical_date="2026-01-01")


def in_other_process(a, b, ds=None):
    import os

    return {"sum": a + b, "ds": ds, "pid": os.getpid()}


def test_external_python_runs_the_callable_in_the_named_interpreter():
    import os

    with DAG("ext_py") as the_dag:
        ExternalPythonOperator(task_id="ext", python=sys.executable,
                               python_callable=in_other_process, op_args=[1],
                               op_kwargs={"b": 2})
    result = _test(the_dag)
    value = result.xcom_pull("ext")
    assert value["sum"] == 3 and value["ds"] == "2026-01-01"
    assert value["pid"] != os.getpid()


def test_external_python_with_a_missing_interpreter_fails_the_task():
    with DAG("ext_missing") as the_dag:
        ExternalPythonOperator(task_id="ext", python="/nonexistent/python",
                               python_callable=in_other_process, op_args=[1, 2])
    result = _test(the_dag)
    assert result.task_states["ext"] == "failed"


def fails():
    raise ValueError("inside the other interpreter")


def test_an_exception_in_the_other_interpreter_fails_the_task():
    with DAG("ext_fail") as the_dag:
        ExternalPythonOperator(task_id="ext", python=sys.executable, python_callable=fails)
    assert _test(the_dag).task_states["ext"] == "failed"


def which_python():
    import sys

    return sys.prefix


def test_virtualenv_operator_creates_a_virtualenv(tmp_path: Path):
    with DAG("venv_py") as the_dag:
        PythonVirtualenvOperator(task_id="venv", python_callable=which_python)
        PythonVirtualenvOperator(task_id="cached", python_callable=which_python,
                                 venv_cache_path=str(tmp_path), system_site_packages=False)
    result = _test(the_dag)
    assert result.state == "success"
    assert result.xcom_pull("venv") != sys.prefix  # its own prefix: a virtualenv
    cached = result.xcom_pull("cached")
    assert cached.startswith(str(tmp_path))
    assert (Path(cached) / ".ready").exists()


def test_virtualenv_requirements_that_cannot_be_installed_fail_the_task():
    with DAG("venv_bad_req") as the_dag:
        PythonVirtualenvOperator(task_id="venv", python_callable=which_python,
                                 requirements=["surely-not-a-package-name-xyz==0.0.0"],
                                 pip_install_options=["--no-index"])
    assert _test(the_dag).task_states["venv"] == "failed"


def pick():
    return "b"


def test_branch_external_python_follows_the_returned_task():
    with DAG("ext_branch") as the_dag:
        branch = BranchExternalPythonOperator(task_id="branch", python=sys.executable,
                                              python_callable=pick)
        branch >> [EmptyOperator(task_id="a"), EmptyOperator(task_id="b")]
    states = _test(the_dag).task_states
    assert states["a"] == "skipped" and states["b"] == "success"


def test_the_decorators_run_in_another_interpreter():
    @task.external_python(python=sys.executable)
    def double(n):
        return n * 2

    @task.virtualenv(system_site_packages=False)
    def triple(n):
        return n * 3

    with DAG("ext_deco") as the_dag:
        triple(double(2))
    result = _test(the_dag)
    assert result.xcom_pull("double") == 4
    assert result.xcom_pull("triple") == 12
