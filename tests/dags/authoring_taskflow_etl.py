"""A TaskFlow ETL: @dag params, multiple outputs, mapping over an upstream list, a TaskGroup.

extract -> double (one instance per order) -> load -> report.check / report.publish
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from millstream import Param, TaskGroup, dag, task


@dag(
    dag_id="authoring_taskflow_etl",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"owner": "data-eng", "retries": 1, "retry_delay": timedelta(seconds=30)},
    tags=["authoring", "taskflow"],
    params={"region": Param("eu", type="string", enum=["eu", "us"])},
)
def authoring_taskflow_etl(multiplier: int = 2) -> None:
    """Orders of one day, multiplied per region, loaded and reported."""

    @task
    def extract(ds: str | None = None, params: dict[str, Any] | None = None) -> dict[str, Any]:
        assert params is not None
        return {"orders": [3, 1, 4], "region": params["region"], "day": ds}

    @task
    def double(value: int, multiplier: int) -> int:
        return value * multiplier

    @task
    def load(values: list[int], region: str, day: str) -> str:
        return f"{region}:{day}:{sum(values)}"

    @task(retries=2)
    def check(summary: str, ti: Any = None) -> str:
        if ti.try_number == 1:
            raise RuntimeError("the warehouse was not ready yet")
        return f"checked {summary} on try {ti.try_number}"

    @task
    def publish(summary: str) -> int:
        return len(summary)

    raw = extract()
    doubled = double.partial(multiplier=multiplier).expand(value=raw["orders"])
    summary = load(doubled, raw["region"], raw["day"])
    with TaskGroup("report"):
        check(summary) >> publish(summary)


etl = authoring_taskflow_etl()
