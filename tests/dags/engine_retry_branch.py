"""Retries, a branch, a mapped task and a join: the engine's paths in one small DAG."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from millstream import DAG, task
from millstream.operators.empty import EmptyOperator

with DAG(
    "engine_retry_branch",
    start_date=datetime(2026, 1, 1),
    schedule="@daily",
    params={"mode": "full"},
    default_args={"retries": 2, "retry_delay": timedelta(hours=1)},
    tags=["engine"],
) as dag:

    @task
    def flaky(ti: Any = None) -> list[int]:
        """Fails on its first try, as a flaky source does."""
        if ti.try_number < 2:
            raise ConnectionError("source not reachable yet")
        return [1, 2, 3]

    @task.branch
    def choose(params: Any = None) -> str:
        return "full_load" if params["mode"] == "full" else "incremental"

    @task
    def load(part: int) -> int:
        return part * 10

    @task
    def summarize(totals: list[int]) -> int:
        return sum(totals)

    parts = flaky()
    full = EmptyOperator(task_id="full_load")
    incremental = EmptyOperator(task_id="incremental")
    done = EmptyOperator(task_id="done", trigger_rule="none_failed_min_one_success")
    choose() >> [full, incremental]
    full >> parts
    summarize(load.expand(part=parts)) >> done
    incremental >> done
