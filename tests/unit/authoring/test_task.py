"""BaseOperator arguments, default_args (DAG and TaskGroup) and argument validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from millstream import DAG, TaskGroup, TriggerRule
from millstream.authoring.task import BaseOperator
from millstream.exceptions import DagDefinitionError
from millstream.operators.bash import BashOperator
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator


def _noop(context):
    return None


def test_every_base_operator_argument_is_kept():
    callbacks = {name: (lambda context, n=name: n) for name in
                 ("on_execute_callback", "on_success_callback", "on_failure_callback",
                  "on_retry_callback")}
    with DAG("args"):
        t = EmptyOperator(
            task_id="t",
            owner="ops",
            retries=4,
            retry_delay=timedelta(seconds=10),
            retry_exponential_backoff=True,
            max_retry_delay=timedelta(minutes=2),
            execution_timeout=timedelta(minutes=5),
            trigger_rule="one_failed",
            pool="db",
            pool_slots=2,
            priority_weight=9,
            queue="heavy",
            depends_on_past=True,
            email=["ops@example.com"],
            email_on_failure=False,
            email_on_retry=False,
            sla=timedelta(hours=1),
            doc_md="does *nothing*",
            **callbacks,
        )
    assert t.task_id == "t"
    assert t.owner == "ops"
    assert t.retries == 4
    assert t.retry_delay == timedelta(seconds=10)
    assert t.retry_exponential_backoff is True
    assert t.max_retry_delay == timedelta(minutes=2)
    assert t.execution_timeout == timedelta(minutes=5)
    assert t.trigger_rule is TriggerRule.ONE_FAILED
    assert t.pool == "db"
    assert t.pool_slots == 2
    assert t.priority_weight == 9
    assert t.queue == "heavy"
    assert t.depends_on_past is True
    assert t.email == ["ops@example.com"]
    assert t.email_on_failure is False
    assert t.email_on_retry is False
    assert t.sla == timedelta(hours=1)
    assert t.doc_md == "does *nothing*"
    for name, callback in callbacks.items():
        assert getattr(t, name) is callback


def test_operator_defaults():
    with DAG("defaults"):
        t = EmptyOperator(task_id="t")
    assert t.retries == 0
    assert t.retry_delay == timedelta(minutes=5)
    assert t.trigger_rule is TriggerRule.ALL_SUCCESS
    assert t.pool == "default_pool"
    assert t.pool_slots == 1
    assert t.priority_weight == 1
    assert t.queue == "default"
    assert t.depends_on_past is False
    assert t.execution_timeout is None
    assert t.email_on_failure is True


def test_numbers_of_seconds_are_accepted_as_durations():
    with DAG("seconds"):
        t = EmptyOperator(task_id="t", retry_delay=30, execution_timeout=1.5,
                          max_retry_delay=600)
    assert t.retry_delay == timedelta(seconds=30)
    assert t.execution_timeout == timedelta(seconds=1.5)
    assert t.max_retry_delay == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("kwargs", "detail"),
    [
        ({"retries": -1}, "retries must be a non-negative integer"),
        ({"retries": "3"}, "retries must be a non-negative integer"),
        ({"pool_slots": 0}, "pool_slots must be a positive integer"),
        ({"retry_delay": "soon"}, "retry_delay must be a timedelta"),
        ({"execution_timeout": timedelta(seconds=-1)}, "execution_timeout must not be negative"),
        ({"weight_rule": "sideways"}, "unknown weight_rule"),
        ({"task_id": ""}, "task_id must be a non-empty string"),
        ({"task_id": "../x"}, "task_id: task id '../x' holds '/'"),
        ({"task_id": "two words"}, "task_id: task id 'two words' holds ' '"),
        ({"task_id": "t" * 251}, "is 251 characters long"),
    ],
)
def test_bad_argument_values_name_dag_and_task(kwargs, detail):
    arguments = {"task_id": "bad", **kwargs}
    with pytest.raises(DagDefinitionError) as info, DAG("validation"):
        EmptyOperator(**arguments)
    message = str(info.value)
    assert "DAG 'validation'" in message
    assert detail in message


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("all_done", TriggerRule.ALL_DONE),
        ("NONE_FAILED", TriggerRule.NONE_FAILED),
        (TriggerRule.ONE_SUCCESS, TriggerRule.ONE_SUCCESS),
        ("none_failed_min_one_success", TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS),
        ("always", TriggerRule.ALWAYS),
    ],
)
def test_trigger_rule_as_string_or_enum(given, expected):
    with DAG("rules"):
        t = EmptyOperator(task_id="t", trigger_rule=given)
    assert t.trigger_rule is expected


def test_unknown_trigger_rule_names_dag_task_and_rule():
    with pytest.raises(DagDefinitionError) as info, DAG("rules"):
        EmptyOperator(task_id="joiner", trigger_rule="all_sucess")
    message = str(info.value)
    assert "DAG 'rules'" in message
    assert "'joiner'" in message
    assert "'all_sucess'" in message
    assert "all_success" in message  # lists the valid rules


def test_unknown_operator_kwargs_name_dag_task_and_arguments():
    with pytest.raises(DagDefinitionError) as info, DAG("typos"):
        BashOperator(task_id="run", bash_command="true", retires=3, timeout=5)
    message = str(info.value)
    assert "DAG 'typos'" in message
    assert "'run'" in message
    assert "BashOperator" in message
    assert "retires" in message and "timeout" in message


def test_misspelt_required_argument_is_a_definition_error_naming_both_spellings():
    with pytest.raises(DagDefinitionError) as info, DAG("typos"):
        BashOperator(task_id="run", bash_comand="echo hi")
    message = str(info.value)
    assert message.startswith("DAG 'typos', task 'run': BashOperator")
    assert "'bash_command'" in message
    assert "unknown arguments: bash_comand" in message


def test_missing_task_id_is_a_definition_error():
    with pytest.raises(DagDefinitionError, match=r"DAG 'no_id'.*'task_id'"), DAG("no_id"):
        EmptyOperator()


def test_positional_arguments_are_a_definition_error():
    with pytest.raises(DagDefinitionError, match=r"DAG 'positional'.*positional"), \
            DAG("positional"):
        PythonOperator("p", python_callable=print)


def test_a_type_error_raised_by_an_operators_own_code_is_left_as_it_is():
    class Strict(BaseOperator):
        def __init__(self, limit: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if not isinstance(limit, int):
                raise TypeError("limit must be a whole number")
            self.limit = limit

    with pytest.raises(TypeError, match=r"^limit must be a whole number$") as info, \
            DAG("strict"):
        Strict(task_id="s", limit="ten")
    assert not isinstance(info.value, DagDefinitionError)


def test_a_subclass_passing_a_wrong_argument_to_its_base_is_a_definition_error():
    class Careless(BaseOperator):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(colour="red", **kwargs)

    with pytest.raises(DagDefinitionError, match=r"DAG 'careless'.*unknown arguments: colour"), \
            DAG("careless"):
        Careless(task_id="c")


def test_unknown_kwargs_are_rejected_outside_a_dag_too():
    with pytest.raises(DagDefinitionError, match=r"task 'x'.*unknown arguments: colour"):
        EmptyOperator(task_id="x", colour="red")


def test_default_args_apply_to_every_task_and_explicit_arguments_win():
    default_args = {
        "owner": "analytics",
        "retries": 2,
        "retry_delay": timedelta(seconds=5),
        "pool": "warehouse",
        "queue": "etl",
        "email": "team@example.com",
        "execution_timeout": timedelta(minutes=1),
        "on_failure_callback": _noop,
        "trigger_rule": "all_done",
        "start_date": datetime(2026, 1, 1),
        "not_an_operator_argument": "ignored",
    }
    with DAG("defaults", default_args=default_args) as the_dag:
        plain = EmptyOperator(task_id="plain")
        python = PythonOperator(task_id="python", python_callable=lambda: 1, retries=0,
                                owner="someone")
        bash = BashOperator(task_id="bash", bash_command="true", pool="default_pool",
                            trigger_rule=TriggerRule.ALL_SUCCESS)
    for t in the_dag.tasks:
        assert t.retry_delay == timedelta(seconds=5)
        assert t.queue == "etl"
        assert t.email == "team@example.com"
        assert t.execution_timeout == timedelta(minutes=1)
        assert t.on_failure_callback is _noop
        assert t.start_date == datetime(2026, 1, 1, tzinfo=UTC)
    assert (plain.owner, plain.retries, plain.pool) == ("analytics", 2, "warehouse")
    assert plain.trigger_rule is TriggerRule.ALL_DONE
    assert (python.owner, python.retries, python.pool) == ("someone", 0, "warehouse")
    assert (bash.owner, bash.retries, bash.pool) == ("analytics", 2, "default_pool")
    assert bash.trigger_rule is TriggerRule.ALL_SUCCESS


def test_default_args_reach_operator_specific_arguments():
    with DAG("bash_defaults", default_args={"env": {"A": "1"}, "cwd": "/tmp"}):
        t = BashOperator(task_id="b", bash_command="echo")
        other = BashOperator(task_id="c", bash_command="echo", cwd="/")
    assert t.env == {"A": "1"}
    assert t.cwd == "/tmp"
    assert other.cwd == "/"


def test_task_group_default_args_override_the_dags_and_nest():
    with DAG("layers", default_args={"retries": 1, "owner": "dag", "queue": "q_dag"}) as d:
        outside = EmptyOperator(task_id="outside")
        with TaskGroup("g", default_args={"retries": 5, "owner": "group"}):
            in_group = EmptyOperator(task_id="in_group")
            explicit = EmptyOperator(task_id="explicit", retries=0)
            with TaskGroup("inner", default_args={"owner": "inner"}):
                in_inner = EmptyOperator(task_id="in_inner")
    assert (outside.retries, outside.owner, outside.queue) == (1, "dag", "q_dag")
    assert (in_group.retries, in_group.owner, in_group.queue) == (5, "group", "q_dag")
    assert explicit.retries == 0
    assert (in_inner.retries, in_inner.owner, in_inner.queue) == (5, "inner", "q_dag")
    assert d.get_task("g.inner.in_inner") is in_inner


def test_default_args_change_behaviour_at_run_time():
    calls = []

    def flaky(ti):
        calls.append(ti.try_number)
        if ti.try_number < 3:
            raise RuntimeError("not yet")
        return "done"

    with DAG("retry_defaults", default_args={"retries": 2}) as the_dag:
        PythonOperator(task_id="flaky", python_callable=flaky)
    result = the_dag.test(logical_date="2026-01-01", fast_retries=True)
    assert result.state == "success"
    assert calls == [1, 2, 3]
    assert result.tasks[0].tries == 3


def test_custom_operator_subclass_gets_default_args_and_runs():
    class Greet(BaseOperator):
        template_fields = ("name",)

        def __init__(self, *, name: str, punctuation: str = ".", **kwargs):
            super().__init__(**kwargs)
            self.name = name
            self.punctuation = punctuation

        def execute(self, context):
            return f"hello {self.name}{self.punctuation}"

    with DAG("custom", default_args={"punctuation": "!", "retries": 1}) as the_dag:
        greet = Greet(task_id="greet", name="{{ params.who }}")
    assert greet.punctuation == "!"
    assert greet.retries == 1
    with pytest.raises(DagDefinitionError) as info, DAG("custom_typo"):
        Greet(task_id="greet", name="x", punctuaton="?")
    assert "Greet got unknown arguments: punctuaton" in str(info.value)
    result = the_dag.test(logical_date="2026-01-01", conf={"who": "world"})
    assert result.xcom_pull("greet") == "hello world!"


def test_base_operator_without_execute_fails_the_task_clearly():
    with DAG("abstract") as the_dag:
        BaseOperator(task_id="nothing")
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states == {"nothing": "failed"}
    assert "BaseOperator must implement execute()" in result.tasks[0].error


def test_task_callbacks_run_at_the_right_moments():
    seen: list[tuple[str, str, int]] = []

    errors: list[str] = []

    def record(kind):
        def callback(context):
            seen.append((kind, context["ti"].task_id, context["ti"].try_number))
            if kind in ("failure", "retry"):
                errors.append(str(context["exception"]))
        return callback

    def fail_once(ti):
        if ti.try_number == 1:
            raise RuntimeError("first try fails")

    def always_fails():
        raise RuntimeError("never works")

    common = {
        "on_execute_callback": record("execute"),
        "on_success_callback": record("success"),
        "on_failure_callback": record("failure"),
        "on_retry_callback": record("retry"),
    }
    with DAG("callbacks", default_args=common) as the_dag:
        PythonOperator(task_id="flaky", python_callable=fail_once, retries=1)
        PythonOperator(task_id="broken", python_callable=always_fails)
    result = the_dag.test(logical_date="2026-01-01", fast_retries=True)
    assert result.task_states == {"flaky": "success", "broken": "failed"}
    assert sorted(seen) == sorted([
        ("execute", "flaky", 1), ("retry", "flaky", 1),
        ("execute", "flaky", 2), ("success", "flaky", 2),
        ("execute", "broken", 1), ("failure", "broken", 1),
    ])
    assert sorted(errors) == ["first try fails", "never works"]


def test_a_failing_callback_does_not_change_the_task_outcome():
    def explode(context):
        raise RuntimeError("callback bug")

    with DAG("bad_callback") as the_dag:
        PythonOperator(task_id="t", python_callable=lambda: 7, on_success_callback=explode)
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states == {"t": "success"}
    assert result.xcom_pull("t") == 7
