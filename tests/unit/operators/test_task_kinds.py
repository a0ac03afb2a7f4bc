"""@task.bash, @task.sensor, @task.run_if / skip_if, @setup / @teardown, through dag.test()."""

from __future__ import annotations

import json

import pytest

from millstream import DAG, task
from millstream.exceptions import DagDefinitionError
from millstream.operators.decorators import setup, teardown


def _test(the_dag: DAG):
    return the_dag.test(logical_date="2026-01-01")


def test_bash_decorator_runs_the_returned_command_rendered_as_a_template():
    @task.bash
    def greet(name):
        return f"echo hello {name} {{{{ ds }}}}"

    with DAG("bash_deco") as the_dag:
        greet("ann")
    result = _test(the_dag)
    assert result.xcom_pull("greet") == "hello ann 2026-01-01"


def test_bash_decorator_with_an_output_processor_and_exit_code_99_skip():
    @task.bash(output_processor=json.loads)
    def emit():
        return "echo '{\"n\": 2}'"

    @task.bash
    def skip_me():
        return "exit 99"

    with DAG("bash_deco_2") as the_dag:
        emit()
        skip_me()
    result = _test(the_dag)
    assert result.xcom_pull("emit") == {"n": 2}
    assert result.task_states["skip_me"] == "skipped"


def test_bash_decorator_fails_on_an_empty_command():
    @task.bash
    def nothing():
        return "   "

    with DAG("bash_empty") as the_dag:
        nothing()
    assert _test(the_dag).task_states["nothing"] == "failed"


def test_sensor_decorator_pokes_the_function():
    from millstream.sensors.base import PokeReturnValue

    @task.sensor(poke_interval=0.01, timeout=5)
    def ready():
        return PokeReturnValue(is_done=True, xcom_value="ok")

    with DAG("sensor_deco") as the_dag:
        ready()
    result = _test(the_dag)
    assert result.task_states["ready"] == "success"
    assert result.xcom_pull("ready") == "ok"


def test_run_if_and_skip_if_decide_from_the_context():
    @task.run_if(lambda context: context["ds"] == "2026-01-01")
    @task
    def runs():
        return 1

    @task.run_if(lambda context: False, skip_message="not today")
    @task
    def skipped():
        return 2

    @task.skip_if(lambda context: True)
    @task
    def also_skipped():
        return 3

    with DAG("conditions") as the_dag:
        runs()
        skipped()
        also_skipped()
    states = _test(the_dag).task_states
    assert states == {"runs": "success", "skipped": "skipped", "also_skipped": "skipped"}


def test_run_if_on_a_mapped_task_checks_every_instance():
    @task.skip_if(lambda context: context["ti"].map_index == 1)
    @task
    def show(value):
        return value

    with DAG("conditions_mapped") as the_dag:
        show.expand(value=[1, 2, 3])
    states = _test(the_dag).task_states
    assert states == {"show[0]": "success", "show[1]": "skipped", "show[2]": "success"}


def test_run_if_needs_a_callable():
    with pytest.raises(DagDefinitionError, match="needs a callable"):
        task.run_if("yes")(lambda: None)


def test_setup_and_teardown_decorators_with_the_teardown_as_a_context_manager():
    @setup
    def create():
        return "cluster"

    @teardown
    def delete(cluster):
        return f"deleted {cluster}"

    @task
    def work():
        raise RuntimeError("work failed")

    with DAG("st_deco") as the_dag, delete(create()):
        work()
    result = _test(the_dag)
    assert the_dag.task_dict["create"].is_setup
    assert the_dag.task_dict["delete"].is_teardown
    assert the_dag.task_dict["work"].upstream_task_ids == {"create"}
    assert the_dag.task_dict["work"].downstream_task_ids == {"delete"}
    assert result.task_states == {"create": "success", "work": "failed", "delete": "success"}
    assert result.xcom_pull("delete") == "deleted cluster"
    assert result.state == "failed"


def test_teardown_decorator_with_on_failure_fail_dagrun():
    @setup
    def create():
        return 1

    @teardown(on_failure_fail_dagrun=True)
    def delete(value):
        raise RuntimeError("cleanup failed")

    with DAG("st_fail") as the_dag:
        delete(create())
    result = _test(the_dag)
    assert result.task_states == {"create": "success", "delete": "failed"}
    assert result.state == "failed"


def test_a_setup_cannot_become_a_teardown():
    @setup
    def create():
        return 1

    with DAG("st_both"), pytest.raises(DagDefinitionError, match="cannot also be a teardown"):
        create().as_teardown()


def test_with_block_on_a_plain_task_is_an_error():
    @task
    def plain():
        return 1

    with DAG("st_plain"), pytest.raises(DagDefinitionError, match="only a setup or teardown"), \
            plain():
        pass
