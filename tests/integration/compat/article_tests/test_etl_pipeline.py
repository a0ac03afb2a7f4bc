# From the orchestration guide, unedited (test_airflow_processes.py runs it in the article's layout).
# tests/test_etl_pipeline.py
# Unit and integration tests for ETL pipelines.
# Run with: pytest tests/test_etl_pipeline.py -v

import pytest
from datetime import datetime
from unittest.mock import MagicMock, patch
from airflow.models import DagBag

class TestDagStructure:
    """Tests for DAG structure and configuration."""

    @pytest.fixture
    def dagbag(self):
        """Load all DAGs for testing."""
        return DagBag(dag_folder='dags/', include_examples=False)

    def test_no_import_errors(self, dagbag):
        """Verify all DAGs load without import errors."""
        assert len(dagbag.import_errors) == 0, \
            f"DAG import errors: {dagbag.import_errors}"

    def test_etl_dag_exists(self, dagbag):
        """Verify the ETL DAG exists."""
        assert 'etl_sales_pipeline' in dagbag.dags

    def test_dag_has_required_tasks(self, dagbag):
        """Verify DAG contains all required tasks."""
        dag = dagbag.get_dag('etl_sales_pipeline')
        task_ids = [task.task_id for task in dag.tasks]

        required_tasks = ['extract_sales_data', 'transform_sales_data', 'validate_data']
        for task in required_tasks:
            assert task in task_ids, f"Missing required task: {task}"

    def test_dag_schedule_is_valid(self, dagbag):
        """Verify DAG schedule is properly configured."""
        dag = dagbag.get_dag('etl_sales_pipeline')

        assert dag.schedule_interval == '0 6 * * *'
        assert dag.catchup is False
        assert dag.max_active_runs == 1


class TestTaskLogic:
    """Tests for individual task logic."""

    @patch('dags.etl_pipeline.PostgresHook')
    def test_extract_returns_expected_structure(self, mock_hook):
        """Test extract function returns correct data structure."""
        # Import the function to test
        from dags.etl_pipeline import extract_sales_data

        # Set up mock
        mock_df = MagicMock()
        mock_df.__len__ = MagicMock(return_value=100)
        mock_hook.return_value.get_pandas_df.return_value = mock_df

        # Create mock context
        context = {
            'data_interval_start': datetime(2026, 1, 1),
            'data_interval_end': datetime(2026, 1, 2),
            'ds': '2026-01-01',
        }

        # Execute
        result = extract_sales_data(**context)

        # Verify
        assert 'record_count' in result
        assert 'output_path' in result
        assert result['record_count'] == 100

    def test_transform_handles_empty_data(self):
        """Test transform handles empty input gracefully."""
        import pandas as pd
        from dags.etl_pipeline import transform_sales_data

        # Create empty DataFrame
        empty_df = pd.DataFrame(columns=['order_id', 'quantity', 'unit_price'])

        # Transformation should handle empty data without errors
        # (Implementation would need adjustment for this test)


class TestDataQuality:
    """Tests for data quality checks."""

    def test_validation_catches_null_values(self):
        """Test that validation properly catches NULL values."""
        # Test implementation
        pass

    def test_validation_catches_count_mismatch(self):
        """Test that validation catches record count mismatches."""
        # Test implementation
        pass


# Run tests with: pytest tests/ -v --cov=dags
