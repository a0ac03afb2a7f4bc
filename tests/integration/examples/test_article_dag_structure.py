"""The article's ``TestDagStructure``, on the examples folder, plus what every example must have.

The DagBag loads ``examples/dags`` as the scheduler would (its ``common/`` helpers and
``config/`` settings included); the article's own checks come first.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from millstream.parsing import DagBag
from tests.integration.examples.conftest import EXAMPLES

ARTICLE_DAGS = {
    "etl_sales_pipeline": "0 6 * * *",
    "parallel_data_sync": "0 */4 * * *",
    "conditional_processing_pipeline": "0 2 * * *",
    "robust_error_handling_pipeline": "0 6 * * *",
    "pipeline_with_observability": "0 */2 * * *",
    "idempotent_etl_example": "0 6 * * *",
}


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    """Load all DAGs for testing."""
    return DagBag(dag_folder=EXAMPLES, include_examples=False)


class TestDagStructure:
    """Tests for DAG structure and configuration (the article's)."""

    def test_no_import_errors(self, dagbag: DagBag) -> None:
        """Verify all DAGs load without import errors."""
        assert len(dagbag.import_errors) == 0, f"DAG import errors: {dagbag.import_errors}"

    def test_etl_dag_exists(self, dagbag: DagBag) -> None:
        """Verify the ETL DAG exists."""
        assert "etl_sales_pipeline" in dagbag.dags

    def test_dag_has_required_tasks(self, dagbag: DagBag) -> None:
        """Verify DAG contains all required tasks."""
        dag = dagbag.get_dag("etl_sales_pipeline")
        assert dag is not None
        task_ids = [task.task_id for task in dag.tasks]

        required_tasks = ["extract_sales_data", "transform_sales_data", "validate_data"]
        for task in required_tasks:
            assert task in task_ids, f"Missing required task: {task}"

    def test_dag_schedule_is_valid(self, dagbag: DagBag) -> None:
        """Verify DAG schedule is properly configured."""
        dag = dagbag.get_dag("etl_sales_pipeline")
        assert dag is not None

        assert dag.schedule_interval == "0 6 * * *"
        assert dag.catchup is False
        assert dag.max_active_runs == 1


def test_every_article_pipeline_is_there_with_its_schedule(dagbag: DagBag) -> None:
    for dag_id, schedule in ARTICLE_DAGS.items():
        dag = dagbag.get_dag(dag_id)
        assert dag is not None, f"{dag_id} is missing from {EXAMPLES}"
        assert dag.schedule_interval == schedule, dag_id
        assert dag.catchup is False, dag_id
        assert dag.tags, f"{dag_id} has no tags"


def test_every_example_task_has_an_owner_and_retries(dagbag: DagBag) -> None:
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            assert task.owner not in ("", "millstream"), (dag.dag_id, task.task_id)
            assert task.retries >= 1, (dag.dag_id, task.task_id)


def test_the_etl_dag_keeps_the_article_settings(dagbag: DagBag) -> None:
    dag = dagbag.get_dag("etl_sales_pipeline")
    assert dag is not None
    assert dag.dagrun_timeout == timedelta(hours=4)
    assert dag.tags == ["etl", "sales", "production", "critical"]
    extract = dag.get_task("extract_sales_data")
    assert (extract.retries, extract.retry_exponential_backoff) == (3, True)
    assert extract.max_retry_delay == timedelta(minutes=30)
    assert extract.email == ["data-alerts@company.com"]
    assert (extract.email_on_failure, extract.email_on_retry) == (True, False)
    assert dag.get_task("cleanup").trigger_rule == "all_done"
    assert [t.task_id for t in dag.topological_sort()] == [
        "start", "extract_sales_data", "transform_sales_data", "load_tasks.load_detail",
        "load_tasks.load_summary", "validate_data", "cleanup", "end",
    ]
    assert dag.get_task("end").upstream_task_ids == {"cleanup", "validate_data"}


def test_each_helper_module_imports_on_its_own() -> None:
    """The scheduler's parser may import any helper alone, with only its folder on sys.path
    (and no ``common`` package loaded): none may need a sibling module."""
    helpers = sorted(p.stem for p in (EXAMPLES / "common").glob("*.py") if p.stem != "__init__")
    code = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(EXAMPLES / 'common')!r})\n"
        f"for name in {helpers!r}:\n"
        "    importlib.import_module(name)\n"
        "assert 'common' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=EXAMPLES.parent)
    assert done.returncode == 0, done.stderr
    assert {"config", "db", "sales_data", "validation", "workspace"} <= set(helpers)
