"""The BashOperator DAG file in tests/dags: template files and a mapped BashOperator."""

from __future__ import annotations


def test_bash_templates_file_runs_scripts_from_folder_and_searchpath(dag_file):
    dag = dag_file("authoring_bash_templates").bash_templates
    assert dag.template_searchpath[0].endswith("authoring_templates")
    result = dag.test(logical_date="2026-03-04T06:00:00")
    assert result.state == "success", result.tasks
    assert result.task_states == {
        "from_dag_folder": "success",
        "from_searchpath": "success",
        "per_item[0]": "success",
        "per_item[1]": "success",
        "per_item[2]": "success",
    }
    assert result.xcom_pull("from_dag_folder") == "report for 2026-03-04 of millstream-demo: hello"
    assert result.xcom_pull("from_searchpath") == (
        "summary 2026-03-05 run=manual__2026-03-04T06:00:00+00:00"
    )
    assert result.xcom_pull("per_item") == ["first!", "second!", "20260304!"]
