"""A second, unscheduled DAG for the REST API tests' filters."""

from __future__ import annotations

from datetime import datetime

from millstream import DAG
from millstream.operators.empty import EmptyOperator

with DAG("api_other", start_date=datetime(2026, 1, 1), schedule=None, tags=["other"]) as dag:
    EmptyOperator(task_id="only")
