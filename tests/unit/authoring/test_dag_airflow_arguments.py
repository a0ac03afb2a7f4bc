"""The rest of Airflow 3's DAG signature: display name, failure limit, Jinja options."""

from __future__ import annotations

import jinja2
import pytest

from millstream import DAG
from millstream.exceptions import DagDefinitionError
from millstream.operators.bash import BashOperator
from millstream.operators.python import PythonOperator


def test_display_name_defaults_to_the_dag_id() -> None:
    assert DAG("plain", schedule=None).dag_display_name == "plain"
    named = DAG("sales", schedule=None, dag_display_name="Sales (ünïcode ok)")
    assert named.dag_display_name == "Sales (ünïcode ok)"


def test_max_consecutive_failed_dag_runs_must_not_be_negative() -> None:
    assert DAG("limit", schedule=None, max_consecutive_failed_dag_runs=3) \
        .max_consecutive_failed_dag_runs == 3
    with pytest.raises(DagDefinitionError, match="max_consecutive_failed_dag_runs"):
        DAG("bad_limit", schedule=None, max_consecutive_failed_dag_runs=-1)


def test_render_template_as_native_obj_gives_python_values() -> None:
    seen = []
    with DAG("native", schedule=None, render_template_as_native_obj=True,
             params={"numbers": [1, 2, 3]}) as dag:
        PythonOperator(task_id="t", python_callable=lambda numbers: seen.append(numbers),
                       op_kwargs={"numbers": "{{ params.numbers }}"})
    assert dag.test().state == "success"
    assert seen == [[1, 2, 3]]


def test_template_undefined_and_jinja_environment_kwargs_reach_the_environment() -> None:
    with DAG("lenient", schedule=None, template_undefined=jinja2.Undefined,
             jinja_environment_kwargs={"trim_blocks": True}) as dag:
        BashOperator(task_id="b", bash_command="echo [{{ not_in_context }}]")
    result = dag.test()
    assert result.state == "success"
    assert result.xcom_pull("b") == "[]"


def test_unknown_dag_arguments_are_still_an_error() -> None:
    with pytest.raises(TypeError, match="no_such_argument"):
        DAG("typo", schedule=None, no_such_argument=1)  # type: ignore[call-arg]


def test_the_display_name_is_kept_in_the_stored_structure_only_when_given() -> None:
    from millstream.parsing.serialize import DagStructure, serialize_dag

    named = DagStructure(serialize_dag(DAG("sales", schedule=None, dag_display_name="Sales")))
    assert named.dag_display_name == "Sales"
    plain = serialize_dag(DAG("plain", schedule=None))
    assert "dag_display_name" not in plain
    assert DagStructure(plain).dag_display_name == "plain"
