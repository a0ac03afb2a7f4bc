"""Every example DAG loads with the file loader and runs to the expected result with dag.test()."""

from __future__ import annotations

from pathlib import Path

import pytest

from millstream import DAG
from millstream.parsing import load_dag_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "dags"
LOGICAL_DATE = "2026-01-01"


def load_example(file_name: str, dag_id: str) -> DAG:
    dags = load_dag_file(EXAMPLES / file_name)
    assert list(dags) == [dag_id]
    return dags[dag_id]


def test_every_example_file_loads() -> None:
    files = sorted(EXAMPLES.glob("*.py"))
    assert files, "no example DAG files found"
    for file in files:
        assert load_dag_file(file), f"{file.name} defines no DAG"


# -- conditional_processing_pipeline -------------------------------------------------------
BRANCHES = ("process_small_batch", "process_medium_batch", "process_large_batch")


@pytest.mark.parametrize(
    ("conf", "chosen", "strategy"),
    [
        (None, "process_medium_batch", "medium"),
        ({"record_count": 500}, "process_small_batch", "small"),
        ({"record_count": 90000}, "process_large_batch", "large"),
    ],
)
def test_conditional_pipeline_takes_the_branch_for_the_volume(
    conf: dict[str, int] | None, chosen: str, strategy: str
) -> None:
    dag = load_example("conditional_pipeline.py", "conditional_processing_pipeline")
    result = dag.test(logical_date=LOGICAL_DATE, conf=conf)

    assert result.state == "success"
    for branch in BRANCHES:
        assert result.task_states[branch] == ("success" if branch == chosen else "skipped")
    for task_id in ("start", "assess_data_volume", "choose_processing_path", "join", "finalize"):
        assert result.task_states[task_id] == "success"
    assert result.xcom_pull("choose_processing_path") == chosen
    assert result.xcom_pull(chosen)["strategy"] == strategy
    assert result.xcom_pull("finalize") == {"status": "completed"}


def test_conditional_pipeline_default_is_5000_records_in_two_chunks() -> None:
    dag = load_example("conditional_pipeline.py", "conditional_processing_pipeline")
    result = dag.test(logical_date=LOGICAL_DATE)
    assert result.xcom_pull("assess_data_volume", key="record_count") == 5000
    assert result.xcom_pull("process_medium_batch") == {
        "strategy": "medium", "records": 5000, "chunks": 2,
    }


def test_conditional_pipeline_keeps_the_article_settings() -> None:
    dag = load_example("conditional_pipeline.py", "conditional_processing_pipeline")
    assert dag.schedule == "0 2 * * *"
    assert dag.catchup is False
    assert dag.tags == ["conditional", "etl"]
    assert dag.get_task("finalize").retries == 2
    assert dag.get_task("join").trigger_rule == "none_failed_min_one_success"


# -- parallel_data_sync --------------------------------------------------------------------
SOURCES = ("customers", "products", "orders", "inventory", "shipments")


def test_parallel_data_sync_runs_every_source_in_priority_waves() -> None:
    dag = load_example("parallel_processing_dag.py", "parallel_data_sync")
    result = dag.test(logical_date=LOGICAL_DATE)

    assert result.state == "success"
    for name in SOURCES:
        assert result.task_states[f"process_{name}"] == "success"
        assert result.xcom_pull(f"process_{name}")["status"] == "completed"
    for marker in ("start", "priority_1_complete", "priority_2_complete",
                   "priority_3_complete", "end"):
        assert result.task_states[marker] == "success"

    order = [t.label for t in result.tasks]
    assert order.index("priority_1_complete") < order.index("process_orders")
    assert order.index("priority_2_complete") < order.index("process_shipments")
    assert dag.get_task("process_orders").upstream_task_ids == {"priority_1_complete"}
    assert dag.get_task("priority_2_complete").upstream_task_ids == {
        "process_orders", "process_inventory",
    }
    assert dag.get_task("end").upstream_task_ids == {"priority_3_complete"}


def test_parallel_data_sync_keeps_the_article_settings() -> None:
    dag = load_example("parallel_processing_dag.py", "parallel_data_sync")
    assert dag.schedule == "0 */4 * * *"
    assert dag.max_active_tasks == 10
    assert {dag.get_task(f"process_{n}").pool for n in SOURCES} == {"data_sync_pool"}
    assert dag.get_task("process_orders").retries == 2


# -- taskflow_sales_summary ----------------------------------------------------------------
def test_taskflow_sales_summary_maps_regions_and_reports() -> None:
    dag = load_example("taskflow_sales_summary.py", "taskflow_sales_summary")
    result = dag.test(logical_date=LOGICAL_DATE)

    assert result.state == "success", result.tasks
    assert set(result.task_states) == {
        "extract_orders", "split_by_region",
        "region_total[0]", "region_total[1]", "region_total[2]",
        "report.summarise", "report.announce",
    }
    assert set(result.task_states.values()) == {"success"}
    assert result.xcom_pull("split_by_region", key="regions") == ["north", "south", "west"]
    assert result.xcom_pull("split_by_region", key="order_count") == 5
    assert result.xcom_pull("region_total") == [
        {"region": "north", "total": 162.0},
        {"region": "south", "total": 100.0},
        {"region": "west", "total": 310.0},
    ]
    assert result.xcom_pull("report.summarise") == {
        "order_count": 5, "grand_total": 572.0, "top_region": "west",
    }
    assert result.xcom_pull("report.announce") == "sales for 2026-01-01: 572.0 across 5 orders"
