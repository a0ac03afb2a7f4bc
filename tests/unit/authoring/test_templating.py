"""Jinja templating of template_fields with the run's context, macros and strict undefined."""

from __future__ import annotations

from pathlib import Path

import pytest

from millstream import DAG
from millstream.authoring.task import BaseOperator
from millstream.operators.python import PythonOperator


class Render(BaseOperator):
    """Returns its templated fields once rendered."""

    template_fields = ("text", "items", "mapping")

    def __init__(self, *, text="", items=(), mapping=None, untemplated="", **kwargs):
        super().__init__(**kwargs)
        self.text = text
        self.items = list(items)
        self.mapping = dict(mapping or {})
        self.untemplated = untemplated

    def execute(self, context):
        return {"text": self.text, "items": self.items, "mapping": self.mapping,
                "untemplated": self.untemplated}


def _render(text: str, **dag_kwargs) -> str:
    with DAG("render", schedule="@daily", **dag_kwargs) as the_dag:
        Render(task_id="r", text=text)
    result = the_dag.test(logical_date="2026-03-15")
    assert result.state == "success", result.tasks[0].error
    return result.xcom_pull("r")["text"]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ ds }}", "2026-03-15"),
        ("{{ ds_nodash }}", "20260315"),
        ("{{ ts }}", "2026-03-15T00:00:00+00:00"),
        ("{{ logical_date.year }}-{{ logical_date.tzinfo }}", "2026-UTC"),
        ("{{ execution_date.strftime('%d/%m') }}", "15/03"),
        ("{{ data_interval_start.isoformat() }}", "2026-03-15T00:00:00+00:00"),
        ("{{ data_interval_end.isoformat() }}", "2026-03-16T00:00:00+00:00"),
        ("{{ run_id }}", "manual__2026-03-15T00:00:00+00:00"),
        ("{{ dag.dag_id }}/{{ task.task_id }}", "render/r"),
        ("{{ ti.task_id }} {{ ti.try_number }}", "r 1"),
        ("{{ task_instance.dag_id }}", "render"),
        ("{{ dag_run.run_id == run_id }}", "True"),
        ("{{ macros.ds_add(ds, 7) }}", "2026-03-22"),
        ("{{ macros.ds_add(ds, -15) }}", "2026-02-28"),
        ("{{ macros.ds_format(ds, '%Y-%m-%d', '%d.%m.%y') }}", "15.03.26"),
        ("{{ (logical_date + macros.timedelta(days=1)).day }}", "16"),
        ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
        ("no template here", "no template here"),
    ],
)
def test_context_values_in_templates(template, expected):
    assert _render(template) == expected


def test_params_and_user_defined_macros_and_filters():
    text = _render(
        "{{ params.table }}:{{ project }}:{{ shout('x') }}:{{ params.table | twice }}",
        params={"table": "orders"},
        user_defined_macros={"project": "acme", "shout": lambda s: s.upper() + "!"},
        user_defined_filters={"twice": lambda s: s * 2},
    )
    assert text == "orders:acme:X!:ordersorders"


def test_conf_overrides_params_in_templates():
    with DAG("conf_params", params={"env": "dev"}) as the_dag:
        Render(task_id="r", text="{{ params.env }}/{{ conf.get('extra', '-') }}")
    assert the_dag.test(logical_date="2026-01-01").xcom_pull("r")["text"] == "dev/-"
    result = the_dag.test(logical_date="2026-01-01", conf={"env": "prod", "extra": "e"})
    assert result.xcom_pull("r")["text"] == "prod/e"


def test_task_params_and_dag_params_are_both_visible():
    with DAG("task_params", params={"a": "dag"},
             default_args={"params": {"d": "default_args"}}) as the_dag:
        Render(task_id="r", text="{{ params.a }} {{ params.c }} {{ params.d }}",
               params={"c": "task"})
    assert the_dag.test(logical_date="2026-01-01").xcom_pull("r")["text"] == (
        "dag task default_args")


def test_nested_fields_are_rendered_and_other_attributes_are_not():
    with DAG("nested") as the_dag:
        Render(task_id="r", text="{{ ds }}", items=["{{ ds_nodash }}", 5, ("{{ 1 + 1 }}",)],
               mapping={"day": "{{ ds }}", "n": 3}, untemplated="{{ ds }}")
    value = the_dag.test(logical_date="2026-05-01").xcom_pull("r")
    assert value == {
        "text": "2026-05-01",
        "items": ["20260501", 5, ["2"]],
        "mapping": {"day": "2026-05-01", "n": 3},
        "untemplated": "{{ ds }}",
    }


def test_rendering_does_not_change_the_dag_definition():
    with DAG("pristine") as the_dag:
        task = Render(task_id="r", text="{{ ds }}", items=["{{ ds }}"])
    the_dag.test(logical_date="2026-01-01")
    assert task.text == "{{ ds }}"
    assert task.items == ["{{ ds }}"]
    second = the_dag.test(logical_date="2026-01-02")
    assert second.xcom_pull("r")["text"] == "2026-01-02"


def test_an_undefined_name_fails_the_task_naming_the_field():
    with DAG("typo") as the_dag:
        Render(task_id="r", text="{{ ds }}", mapping={"k": "{{ dss }}"}, retries=3)
    result = the_dag.test(logical_date="2026-01-01", fast_retries=True)
    assert result.state == "failed"
    (task,) = result.tasks
    assert task.state == "failed"
    assert "TemplateRenderError" in task.error
    assert "task 'r'" in task.error
    assert "field 'mapping'" in task.error
    assert "'dss' is undefined" in task.error


def test_an_undefined_param_attribute_fails_the_task():
    with DAG("missing_param", params={"a": 1}) as the_dag:
        PythonOperator(task_id="p", python_callable=lambda: None,
                       op_kwargs={"x": "{{ params.b }}"})
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states == {"p": "failed"}
    assert "field 'op_kwargs'" in result.tasks[0].error
    assert "'b'" in result.tasks[0].error


def test_a_template_syntax_error_fails_the_task_naming_the_field():
    with DAG("syntax") as the_dag:
        Render(task_id="r", text="{{ ds ")
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states == {"r": "failed"}
    assert "cannot render template field 'text'" in result.tasks[0].error


class FileRender(Render):
    template_ext = (".sql",)


def test_template_files_from_the_dag_folder_and_the_search_path(tmp_path: Path):
    (tmp_path / "query.sql").write_text("SELECT * FROM t WHERE day = '{{ ds }}'")
    search = tmp_path / "shared"
    search.mkdir()
    (search / "common.sql").write_text("-- {{ params.owner }}\n{% include 'part.sql' %}")
    (search / "part.sql").write_text("SELECT {{ macros.ds_add(ds, 1) }}")
    with DAG("files", fileloc=str(tmp_path / "dag.py"), template_searchpath=[str(search)],
             params={"owner": "ana"}) as the_dag:
        FileRender(task_id="folder", text="query.sql")
        FileRender(task_id="searchpath", text="common.sql")
        FileRender(task_id="not_a_file", text="plain text {{ ds_nodash }}")
    result = the_dag.test(logical_date="2026-01-31")
    assert result.state == "success"
    assert result.xcom_pull("folder")["text"] == "SELECT * FROM t WHERE day = '2026-01-31'"
    assert result.xcom_pull("searchpath")["text"] == "-- ana\nSELECT 2026-02-01"
    assert result.xcom_pull("not_a_file")["text"] == "plain text 20260131"


def test_a_missing_template_file_fails_the_task_naming_file_and_field(tmp_path: Path):
    with DAG("no_file", fileloc=str(tmp_path / "dag.py")) as the_dag:
        FileRender(task_id="r", text="missing.sql")
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states == {"r": "failed"}
    error = result.tasks[0].error
    assert "'missing.sql'" in error and "field 'text'" in error


def test_templates_dict_and_op_args_of_python_operator():
    def show(first, second, templates_dict=None, **_):
        return [first, second, templates_dict]

    with DAG("python_templates", params={"n": 2}) as the_dag:
        PythonOperator(
            task_id="show",
            python_callable=show,
            op_args=["{{ ds }}"],
            op_kwargs={"second": "{{ params.n * 2 }}"},
            templates_dict={"q": "{{ ds_nodash }}", "fixed": 1},
        )
    result = the_dag.test(logical_date="2026-02-02")
    assert result.xcom_pull("show") == ["2026-02-02", "4", {"q": "20260202", "fixed": 1}]
