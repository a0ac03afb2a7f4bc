"""BaseOperator's Airflow 3 arguments: task_display_name, pre_execute / post_execute hooks,
and render_template() from inside a task."""

from __future__ import annotations

from typing import Any

from millstream import DAG, get_current_context, task
from millstream.exceptions import TaskSkipped
from millstream.operators.bash import BashOperator
from millstream.operators.empty import EmptyOperator


def test_task_display_name_is_kept():
    with DAG("display"):
        shown = EmptyOperator(task_id="t", task_display_name="Nice name")
        plain = EmptyOperator(task_id="u")
    assert shown.task_display_name == "Nice name"
    assert plain.task_display_name is None


def test_pre_and_post_execute_hooks_run_around_execute():
    seen: list[Any] = []

    def before(context: dict[str, Any]) -> None:
        seen.append(("pre", context["ds"]))

    def after(context: dict[str, Any], result: Any) -> None:
        seen.append(("post", result))

    with DAG("hooks") as the_dag:
        BashOperator(task_id="b", bash_command="echo out", pre_execute=before,
                     post_execute=after)
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "success"
    assert seen == [("pre", "2026-01-01"), ("post", "out")]


def test_a_pre_execute_hook_may_skip_the_task():
    def skip(context: dict[str, Any]) -> None:
        raise TaskSkipped("not today")

    with DAG("hook_skip") as the_dag:
        EmptyOperator(task_id="e", pre_execute=skip)
    assert the_dag.test(logical_date="2026-01-01").task_states == {"e": "skipped"}


def test_render_template_renders_with_the_context_given():
    @task(params={"who": "task"})
    def show() -> str:
        context = get_current_context()
        return context["task"].render_template("{{ ds }} by {{ params.who }}", context)

    with DAG("render") as the_dag:
        show()
    assert the_dag.test(logical_date="2026-01-01").xcom_pull("show") == "2026-01-01 by task"
