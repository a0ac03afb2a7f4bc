"""Params: defaults, conf overrides, validation, and @dag function arguments as params."""

from __future__ import annotations

from datetime import datetime

import pytest

from millstream import DAG, Param, dag, task
from millstream.exceptions import ParamValidationError
from millstream.operators.bash import BashOperator


@task
def echo(value):
    return value


def _params_dag(**params) -> DAG:
    with DAG("params", params=params) as the_dag:

        @task
        def show(params=None):
            return dict(params)

        show()
    return the_dag


def test_param_defaults_and_plain_values_reach_the_task():
    the_dag = _params_dag(limit=Param(10, type="integer"), mode="fast")
    result = the_dag.test(logical_date="2026-01-01")
    assert result.xcom_pull("show") == {"limit": 10, "mode": "fast"}


def test_conf_overrides_defaults_and_adds_keys():
    the_dag = _params_dag(limit=Param(10, type="integer"), mode="fast")
    result = the_dag.test(logical_date="2026-01-01", conf={"limit": 3, "extra": [1]})
    assert result.xcom_pull("show") == {"limit": 3, "mode": "fast", "extra": [1]}


@pytest.mark.parametrize(
    ("param", "bad", "detail"),
    [
        (Param(1, type="integer"), "1", "'1' is not of type 'integer'"),
        (Param(1, type="integer"), True, "True is not of type 'integer'"),
        (Param(1.5, type="number"), "x", "'x' is not of type 'number'"),
        (Param("a", type="string"), 5, "5 is not of type 'string'"),
        (Param(True, type="boolean"), "yes", "'yes' is not of type 'boolean'"),
        (Param([], type="array"), {}, "{} is not of type 'array'"),
        (Param(None, type=["null", "string"]), 3, "3 is not of type 'null', 'string'"),
        (Param("eu", enum=["eu", "us"]), "asia", "'asia' is not one of ['eu', 'us']"),
        (Param(5, type="integer", minimum=1), 0, "0 is less than the minimum of 1"),
        (Param(5, maximum=10), 11, "11 is greater than the maximum of 10"),
        (Param("abc", min_length=2), "a", "'a' is too short"),
        (Param("abc", maxLength=3), "abcd", "'abcd' is too long"),
        (Param("2026-01-01", pattern=r"^\d{4}-\d{2}-\d{2}$"), "Jan 1", "does not match"),
    ],
)
def test_bad_conf_values_are_rejected_naming_the_param(param, bad, detail):
    the_dag = _params_dag(value=param)
    with pytest.raises(ParamValidationError) as info:
        the_dag.test(logical_date="2026-01-01", conf={"value": bad})
    message = str(info.value)
    assert "param 'value'" in message
    assert detail in message
    assert repr(bad) in message


def test_good_conf_values_pass_validation():
    the_dag = _params_dag(
        count=Param(5, type="integer", minimum=1, maximum=10),
        region=Param("eu", enum=["eu", "us"]),
        maybe=Param(None, type=["null", "string"]),
    )
    result = the_dag.test(logical_date="2026-01-01",
                          conf={"count": 10, "region": "us", "maybe": "x"})
    assert result.xcom_pull("show") == {"count": 10, "region": "us", "maybe": "x"}


def test_a_bad_default_is_a_definition_error_naming_dag_and_param():
    with pytest.raises(ParamValidationError) as info:
        DAG("bad_default", params={"n": Param(0, type="integer", minimum=1)})
    message = str(info.value)
    assert "DAG 'bad_default'" in message
    assert "'n'" in message and "less than the minimum of 1" in message


def test_a_param_without_default_needs_a_value_in_conf():
    the_dag = _params_dag(required=Param(type="string"))
    with pytest.raises(ParamValidationError, match=r"DAG 'params': param 'required' needs a value"):
        the_dag.test(logical_date="2026-01-01")
    result = the_dag.test(logical_date="2026-01-01", conf={"required": "given"})
    assert result.xcom_pull("show") == {"required": "given"}


def test_an_unknown_param_type_is_rejected():
    with pytest.raises(ParamValidationError, match=r"unknown Param type 'int'"):
        Param(1, type="int")


def test_params_in_bash_templates():
    with DAG("bash_params", params={"table": Param("orders", type="string")}) as the_dag:
        BashOperator(task_id="b", bash_command="echo {{ params.table }}")
    assert the_dag.test(logical_date="2026-01-01").xcom_pull("b") == "orders"
    result = the_dag.test(logical_date="2026-01-01", conf={"table": "users"})
    assert result.xcom_pull("b") == "users"


def test_dag_function_arguments_become_params_resolved_at_run_time():
    @dag(start_date=datetime(2026, 1, 1), schedule=None)
    def pipeline(source: str = "s3://bucket", batch: int = 100):
        @task
        def describe(where, size):
            return f"{where}:{size}"

        echo(describe(source, batch))
        echo(batch)

    built = pipeline()
    assert built.params == {"source": "s3://bucket", "batch": 100}
    defaults = built.test(logical_date="2026-01-01")
    assert defaults.xcom_pull("describe") == "s3://bucket:100"
    assert defaults.xcom_pull("echo__1") == 100
    overridden = built.test(logical_date="2026-01-01", conf={"batch": 7})
    assert overridden.xcom_pull("describe") == "s3://bucket:7"
    assert overridden.xcom_pull("echo__1") == 7


def test_dag_function_called_with_arguments_changes_the_defaults():
    @dag
    def configurable(greeting: str = "hello"):
        echo(greeting)

    built = configurable(greeting="bonjour")
    assert built.params == {"greeting": "bonjour"}
    assert built.test(logical_date="2026-01-01").xcom_pull("echo") == "bonjour"


def test_dag_function_argument_with_a_param_default_is_validated():
    @dag
    def checked(count=Param(3, type="integer", minimum=1)):  # noqa: B008
        echo(count)

    built = checked()
    assert built.test(logical_date="2026-01-01").xcom_pull("echo") == 3
    with pytest.raises(ParamValidationError, match=r"param 'count'"):
        built.test(logical_date="2026-01-01", conf={"count": 0})


def test_task_params_override_dag_params_and_conf_overrides_both() -> None:
    with DAG("task_params", params={"b": "dag"}) as dag:
        BashOperator(
            task_id="show",
            bash_command="echo {{ params.b }} {{ params.x }}",
            params={"b": "task", "x": Param(5, type="integer")},
        )
    assert dag.test().xcom_pull("show") == "task 5"
    assert dag.test(conf={"b": "conf"}).xcom_pull("show") == "conf 5"


def test_every_json_schema_keyword_is_checked_by_jsonschema():
    the_dag = _params_dag(
        rows=Param([{"name": "a", "n": 1}], type="array", minItems=1,
                   items={"type": "object", "required": ["name"],
                          "properties": {"n": {"type": "integer", "multipleOf": 1}}}),
        day=Param("2026-01-01", type="string", format="date"),
        either=Param(1, anyOf=[{"type": "integer"}, {"const": "all"}]),
    )
    result = the_dag.test(logical_date="2026-01-01", conf={"either": "all"})
    assert result.xcom_pull("show")["either"] == "all"
    with pytest.raises(ParamValidationError, match=r"param 'rows': 'name' is a required "
                                                   r"property \(at 0\)"):
        the_dag.test(logical_date="2026-01-01", conf={"rows": [{"n": 2}]})
    with pytest.raises(ParamValidationError, match=r"param 'day': 'Jan 1' is not a 'date'"):
        the_dag.test(logical_date="2026-01-01", conf={"day": "Jan 1"})
    with pytest.raises(ParamValidationError, match=r"param 'either'"):
        the_dag.test(logical_date="2026-01-01", conf={"either": 2.5})


def test_form_keywords_are_kept_and_do_not_affect_validation():
    param = Param(3, "how many", type=["number", "null"], title="Count", section="Sizes",
                  values_display={"3": "three"}, description_md="**how** many")
    assert (param.title, param.section, param.values_display) == ("Count", "Sizes",
                                                                  {"3": "three"})
    assert param.schema["description"] == "how many"
    assert param.validate(None, "count") is None


def test_a_schema_that_is_not_json_schema_is_rejected_when_made():
    with pytest.raises(ParamValidationError, match=r"bad Param schema at minimum"):
        Param(1, minimum="one")
