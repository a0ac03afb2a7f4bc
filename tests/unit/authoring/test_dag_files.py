"""End-to-end runs of the authoring DAG files in tests/dags through dag.test()."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from millstream import DAG, Param
from millstream.exceptions import ParamValidationError


def test_taskflow_etl_file_defines_the_dag_it_documents(dag_file):
    module = dag_file("authoring_taskflow_etl")
    dag = module.etl
    assert isinstance(dag, DAG)
    assert dag.dag_id == "authoring_taskflow_etl"
    assert dag.doc_md == "Orders of one day, multiplied per region, loaded and reported."
    assert dag.tags == ["authoring", "taskflow"]
    assert dag.start_date == datetime(2026, 1, 1, tzinfo=UTC)
    assert set(dag.task_ids) == {
        "extract", "double", "load", "report.check", "report.publish",
    }
    assert isinstance(dag.params["region"], Param)
    assert dag.params["multiplier"] == 2
    # default_args reach every task; the explicit retries=2 of check wins
    assert {t.owner for t in dag.tasks} == {"data-eng"}
    assert dag.get_task("load").retries == 1
    assert dag.get_task("load").retry_delay == timedelta(seconds=30)
    assert dag.get_task("report.check").retries == 2
    assert dag.get_task("extract").multiple_outputs is True  # from `-> dict[str, Any]`
    assert dag.get_task("load").upstream_task_ids == {"extract", "double"}
    assert dag.get_task("report.publish").upstream_task_ids == {"load", "report.check"}


def test_taskflow_etl_runs_with_defaults(dag_file):
    dag = dag_file("authoring_taskflow_etl").etl
    result = dag.test(logical_date="2026-03-04", fast_retries=True)
    assert result.state == "success"
    assert result.task_states == {
        "extract": "success",
        "double[0]": "success",
        "double[1]": "success",
        "double[2]": "success",
        "load": "success",
        "report.check": "success",
        "report.publish": "success",
    }
    assert result.xcom_pull("extract", "orders") == [3, 1, 4]
    assert result.xcom_pull("double") == [6, 2, 8]
    assert result.xcom_pull("load") == "eu:2026-03-04:16"
    tries = {t.label: t.tries for t in result.tasks}
    assert tries["report.check"] == 2  # failed once, retried
    assert result.xcom_pull("report.check") == "checked eu:2026-03-04:16 on try 2"
    assert result.xcom_pull("report.publish") == len("eu:2026-03-04:16")


def test_taskflow_etl_conf_overrides_params_and_dag_arguments(dag_file):
    dag = dag_file("authoring_taskflow_etl").etl
    result = dag.test(logical_date="2026-03-05", conf={"region": "us", "multiplier": 10},
                      fast_retries=True)
    assert result.state == "success"
    assert result.xcom_pull("double") == [30, 10, 40]
    assert result.xcom_pull("load") == "us:2026-03-05:80"


def test_taskflow_etl_rejects_a_region_outside_the_enum(dag_file):
    dag = dag_file("authoring_taskflow_etl").etl
    with pytest.raises(ParamValidationError) as info:
        dag.test(logical_date="2026-03-05", conf={"region": "mars"})
    assert "'region'" in str(info.value)
    assert "mars" in str(info.value)


def test_branching_file_follows_the_fast_path_by_default(dag_file):
    dag = dag_file("authoring_branching").branching
    result = dag.test(logical_date="2026-02-01")
    assert result.state == "success"
    assert result.task_states == {
        "start": "success",
        "choose": "success",
        "fast_path": "success",
        "slow.prepare": "skipped",
        "slow.crunch": "skipped",
        "join": "success",
        "gate": "success",
        "publish": "success",
        "cleanup": "success",
    }
    assert result.xcom_pull("choose") == "fast_path"
    assert result.xcom_pull("fast_path") == "fast-fast"


def test_branching_file_follows_the_group_when_asked(dag_file):
    dag = dag_file("authoring_branching").branching
    result = dag.test(logical_date="2026-02-01", conf={"mode": "slow"})
    assert result.state == "success"
    states = result.task_states
    assert states["fast_path"] == "skipped"
    assert states["slow.prepare"] == states["slow.crunch"] == "success"
    assert states["join"] == "success"
    assert result.xcom_pull("slow.crunch") == "crunched-20260201"


def test_branching_file_gate_skips_publish_but_cleanup_still_runs(dag_file):
    dag = dag_file("authoring_branching").branching
    result = dag.test(logical_date="2026-02-01", conf={"publish": False})
    assert result.state == "success"
    assert result.task_states["gate"] == "success"
    assert result.task_states["publish"] == "skipped"
    assert result.task_states["cleanup"] == "success"
