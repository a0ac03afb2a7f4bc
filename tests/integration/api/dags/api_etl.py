"""A small daily ETL for the REST API tests: a chain with a side branch and a checked param."""

from __future__ import annotations

from datetime import datetime

from millstream import DAG, Param
from millstream.operators.empty import EmptyOperator

with DAG(
    "api_etl",
    start_date=datetime(2026, 1, 1),
    schedule="@daily",
    tags=["api", "etl"],
    description="extract, transform, load; extract also feeds an audit",
    params={"n": Param(3, type="integer", minimum=0)},
) as dag:
    extract = EmptyOperator(task_id="extract", owner="data")
    transform = EmptyOperator(task_id="transform", retries=2)
    load = EmptyOperator(task_id="load")
    audit = EmptyOperator(task_id="audit")
    extract >> transform >> load
    extract >> audit
