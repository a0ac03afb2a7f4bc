"""Data quality checks on loaded rows: each failure names the table, the period and the numbers."""

from __future__ import annotations

from collections.abc import Mapping

from millstream.exceptions import TaskFailedNoRetry


class DataQualityError(TaskFailedNoRetry):
    """Loaded data failed a check.

    Retrying the check would only find the same rows again, so the task fails at once
    instead of spending its retries; re-run the load once the data is fixed.
    """


def check_row_count(table: str, period: str, expected: int, actual: int) -> None:
    """The table holds exactly the rows the load was given for the period."""
    if actual != expected:
        raise DataQualityError(
            f"Data validation failed: expected {expected} records in {table} for {period}, "
            f"but found {actual} in the warehouse"
        )


def check_no_nulls(table: str, period: str, null_counts: Mapping[str, int]) -> None:
    """No row of the period lacks a value in any of the key columns counted."""
    missing = {column: count for column, count in null_counts.items() if count}
    if missing:
        detail = ", ".join(f"{column}: {count}" for column, count in missing.items())
        raise DataQualityError(
            f"Data quality check failed: {sum(missing.values())} records in {table} for "
            f"{period} have NULL values in key columns ({detail})"
        )
