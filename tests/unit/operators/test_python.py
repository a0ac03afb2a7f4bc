"""PythonOperator, BranchPythonOperator and ShortCircuitOperator, run through dag.test()."""

from __future__ import annotations

import functools

import pytest

from millstream import DAG, TaskGroup, TriggerRule, get_current_context
from millstream.exceptions import DagDefinitionError
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
    callable_kwargs,
)

CONTEXT_KEYS = {
    "ds", "ds_nodash", "ts", "logical_date", "execution_date", "data_interval_start",
    "data_interval_end", "run_id", "dag", "task", "ti", "task_instance", "dag_run", "params",
    "conf", "macros",
}


def _run_one(callable_, **kwargs):
    with DAG("py", params={"p": 1}) as the_dag:
        PythonOperator(task_id="t", python_callable=callable_, **kwargs)
    result = the_dag.test(logical_date="2026-04-01")
    return result


# -- PythonOperator ----------------------------------------------------------------------------

def test_op_args_and_op_kwargs_are_passed():
    def combine(a, b, *rest, sep="-", **extra):
        return sep.join([a, b, *rest]) + str(sorted(k for k in extra if k in ("flag",)))

    result = _run_one(combine, op_args=["x", "y", "z"], op_kwargs={"sep": "+", "flag": 1})
    assert result.xcom_pull("t") == "x+y+z['flag']"


def test_callable_receives_only_the_context_keys_it_declares():
    def picky(ds, ti, params):
        return [ds, ti.task_id, params["p"]]

    assert _run_one(picky).xcom_pull("t") == ["2026-04-01", "t", 1]


def test_callable_without_parameters_gets_no_context():
    assert _run_one(lambda: "plain").xcom_pull("t") == "plain"


def test_var_keyword_callable_receives_the_whole_context():
    seen = {}

    def everything(**context):
        seen.update(context)
        return sorted(CONTEXT_KEYS - set(context))

    result = _run_one(everything)
    assert result.xcom_pull("t") == []
    assert seen["ds"] == "2026-04-01"
    assert seen["ti"].task_id == "t"
    assert seen["dag"].dag_id == "py"
    assert seen["templates_dict"] is None


def test_positional_op_args_and_op_kwargs_win_over_context_keys():
    def shadow(ds, run_id="r", **context):
        return [ds, run_id, "ds" in context]

    result = _run_one(shadow, op_args=["given"], op_kwargs={"run_id": "mine"})
    assert result.xcom_pull("t") == ["given", "mine", False]


def test_templates_dict_is_rendered_and_passed_as_a_context_key():
    def use(templates_dict):
        return templates_dict

    result = _run_one(use, templates_dict={"day": "{{ ds_nodash }}", "p": "{{ params.p }}"})
    assert result.xcom_pull("t") == {"day": "20260401", "p": "1"}


def test_get_current_context_inside_the_callable():
    def deep():
        return get_current_context()["ti"].task_id

    assert _run_one(deep).xcom_pull("t") == "t"
    with pytest.raises(RuntimeError, match=r"outside a running task"):
        get_current_context()


def test_ti_xcom_push_and_pull_between_tasks():
    def push(ti):
        ti.xcom_push(key="rows", value=[1, 2])
        return "pushed"

    def pull(ti):
        return [ti.xcom_pull(task_ids="push", key="rows"), ti.xcom_pull(task_ids="push"),
                ti.xcom_pull(task_ids=["push", "push"], key="rows")]

    with DAG("xcoms") as the_dag:
        PythonOperator(task_id="push", python_callable=push) >> PythonOperator(
            task_id="pull", python_callable=pull)
    result = the_dag.test(logical_date="2026-01-01")
    assert result.xcom_pull("push", "rows") == [1, 2]
    assert result.xcom_pull("pull") == [[1, 2], "pushed", [[1, 2], [1, 2]]]


def test_an_exception_fails_the_task_with_its_message():
    def broken():
        raise KeyError("missing column")

    result = _run_one(broken)
    assert result.state == "failed"
    assert result.tasks[0].error.startswith("KeyError: 'missing column'")


def test_python_callable_must_be_callable():
    with pytest.raises(DagDefinitionError, match=r"task 'x': python_callable must be callable"), \
            DAG("not_callable"):
        PythonOperator(task_id="x", python_callable="print")


# -- BranchPythonOperator ----------------------------------------------------------------------

def _branch_dag(choice, join_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS):
    with DAG("branch") as the_dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: choice)
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b")
        c = EmptyOperator(task_id="c")
        a_next = EmptyOperator(task_id="a_next")
        join = EmptyOperator(task_id="join", trigger_rule=join_rule)
        branch >> [a, b, c]
        a >> a_next
        [a_next, b, c] >> join
    return the_dag


def test_branch_to_one_task_skips_the_others_and_their_downstream():
    result = _branch_dag("b").test(logical_date="2026-01-01")
    assert result.state == "success"
    assert result.task_states == {"branch": "success", "a": "skipped", "b": "success",
                                  "c": "skipped", "a_next": "skipped", "join": "success"}
    assert result.xcom_pull("branch") == "b"


def test_branch_to_a_list_of_tasks():
    result = _branch_dag(["a", "c"]).test(logical_date="2026-01-01")
    states = result.task_states
    assert (states["a"], states["a_next"], states["b"], states["c"]) == (
        "success", "success", "skipped", "success")
    assert states["join"] == "success"


def test_branch_returning_none_skips_every_direct_downstream():
    result = _branch_dag(None).test(logical_date="2026-01-01")
    assert result.state == "success"
    assert {result.task_states[t] for t in ("a", "b", "c", "a_next", "join")} == {"skipped"}


def test_join_with_all_success_is_skipped_after_a_branch():
    result = _branch_dag("b", join_rule=TriggerRule.ALL_SUCCESS).test(logical_date="2026-01-01")
    assert result.task_states["b"] == "success"
    assert result.task_states["join"] == "skipped"


@pytest.mark.parametrize("bad", ["a_next", "nope", ["a", "missing"]])
def test_branch_to_a_task_that_is_not_directly_downstream_fails_clearly(bad):
    result = _branch_dag(bad).test(logical_date="2026-01-01")
    assert result.state == "failed"
    assert result.task_states["branch"] == "failed"
    assert {result.task_states[t] for t in ("a", "b", "c", "a_next")} == {"upstream_failed"}
    error = result.tasks[0].error
    wrong = bad[-1] if isinstance(bad, list) else bad
    assert f"task 'branch': branch returned {wrong}, which is not a direct downstream task" \
        in error
    assert "expected one of ['a', 'b', 'c']" in error


def test_branch_returning_a_non_string_fails_clearly():
    result = _branch_dag(42).test(logical_date="2026-01-01")
    assert result.task_states["branch"] == "failed"
    assert "must return a task id, a list of task ids or None, got 42" in result.tasks[0].error


def test_branch_to_a_task_group_follows_the_group_roots():
    def choose(params):
        return params["target"]

    with DAG("branch_group", params={"target": "heavy"}) as the_dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=choose)
        light = EmptyOperator(task_id="light")
        with TaskGroup("heavy") as heavy:
            first = EmptyOperator(task_id="first")
            second = EmptyOperator(task_id="second")
            inner_next = EmptyOperator(task_id="inner_next")
            first >> inner_next
        branch >> [light, heavy]
    assert branch.downstream_task_ids == {"light", "heavy.first", "heavy.second"}
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "success"
    assert result.task_states == {"branch": "success", "light": "skipped",
                                  "heavy.first": "success", "heavy.second": "success",
                                  "heavy.inner_next": "success"}
    other = the_dag.test(logical_date="2026-01-01", conf={"target": "light"})
    assert other.task_states["light"] == "success"
    assert {other.task_states[t.task_id] for t in (first, second, inner_next)} == {"skipped"}


def test_branch_to_a_group_member_that_is_not_a_root_fails():
    with DAG("branch_inner") as the_dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "g.second")
        with TaskGroup("g") as group:
            EmptyOperator(task_id="first") >> EmptyOperator(task_id="second")
        branch >> group
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states["branch"] == "failed"
    assert "branch returned g.second" in result.tasks[0].error


# -- ShortCircuitOperator ---------------------------------------------------------------------

def _short_dag(value, ignore_downstream_trigger_rules=True):
    with DAG("short") as the_dag:
        check = ShortCircuitOperator(
            task_id="check", python_callable=lambda: value,
            ignore_downstream_trigger_rules=ignore_downstream_trigger_rules,
        )
        direct = EmptyOperator(task_id="direct")
        further = EmptyOperator(task_id="further")
        cleanup = EmptyOperator(task_id="cleanup", trigger_rule="all_done")
        check >> direct >> further >> cleanup
    return the_dag


@pytest.mark.parametrize("value", [True, 1, "yes", [0]])
def test_short_circuit_truthy_lets_everything_run(value):
    result = _short_dag(value).test(logical_date="2026-01-01")
    assert set(result.task_states.values()) == {"success"}
    assert result.xcom_pull("check") == value


@pytest.mark.parametrize("value", [False, 0, "", [], None])
def test_short_circuit_falsy_skips_everything_downstream(value):
    result = _short_dag(value).test(logical_date="2026-01-01")
    assert result.state == "success"
    assert result.task_states == {"check": "success", "direct": "skipped",
                                  "further": "skipped", "cleanup": "skipped"}


def test_short_circuit_respecting_trigger_rules_skips_only_direct_downstream():
    result = _short_dag(False, ignore_downstream_trigger_rules=False).test(
        logical_date="2026-01-01")
    assert result.state == "success"
    assert result.task_states == {"check": "success", "direct": "skipped",
                                  "further": "skipped", "cleanup": "success"}


def test_short_circuit_only_affects_its_own_downstream():
    with DAG("short_side") as the_dag:
        check = ShortCircuitOperator(task_id="check", python_callable=lambda: False)
        gated = EmptyOperator(task_id="gated")
        independent = EmptyOperator(task_id="independent")
        both = EmptyOperator(task_id="both", trigger_rule="none_failed")
        check >> gated >> both
        independent >> both
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states == {"check": "success", "gated": "skipped",
                                  "independent": "success", "both": "skipped"}


def test_empty_operator_succeeds_and_pushes_nothing():
    with DAG("empty") as the_dag:
        EmptyOperator(task_id="e")
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states == {"e": "success"}
    assert result.xcom_pull("e") is None


def test_an_async_callable_runs_to_its_end():
    async def later(n):
        return n * 2

    assert _run_one(later, op_args=[21]).xcom_pull("t") == 42


def test_a_generator_callable_sets_the_extra_of_its_outlets_events():
    from millstream import Asset
    from millstream.authoring.asset_expressions import Metadata

    orders = Asset("s3://bucket/orders")
    seen = {}

    def produce():
        yield Metadata(orders, {"rows": 3})
        yield "ignored"
        return "done"

    def look(context):
        seen.update(context["outlet_events"][orders].extra)

    with DAG("gen") as the_dag:
        PythonOperator(task_id="t", python_callable=produce, outlets=[orders],
                       post_execute=lambda context, result: look(context))
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "success"
    assert result.xcom_pull("t") == "done"
    assert seen == {"rows": 3}


def test_callable_kwargs_follow_a_function_whose_code_was_replaced() -> None:
    context = {"ds": "2026-01-01", "ti": "the ti", "params": {}}

    def task(ds):  # type: ignore[no-untyped-def]
        return ds

    def other(ti, **rest):  # type: ignore[no-untyped-def]
        return ti

    assert callable_kwargs(task, [], {}, context) == {"ds": "2026-01-01"}
    assert callable_kwargs(task, [], {}, context) == {"ds": "2026-01-01"}  # learned once
    task.__code__ = other.__code__
    assert callable_kwargs(task, [], {}, context) == context


def test_callable_kwargs_of_a_wrapped_function_follow_the_wrapped_signature() -> None:
    def inner(ds, ti):  # type: ignore[no-untyped-def]
        return ds

    @functools.wraps(inner)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        return inner(*args, **kwargs)

    context = {"ds": "2026-01-01", "ti": "the ti", "params": {}}
    assert callable_kwargs(wrapper, ["x"], {}, context) == {"ti": "the ti"}
