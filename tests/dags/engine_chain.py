"""A chain of 100 no-op tasks: the engine's simplest long DAG."""

from __future__ import annotations

from datetime import datetime

from millstream import DAG, chain
from millstream.operators.empty import EmptyOperator

with DAG(
    "engine_chain100",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    tags=["engine"],
    doc_md="100 empty tasks, each waiting for the one before it.",
) as dag:
    chain(*[EmptyOperator(task_id=f"step_{i:03d}") for i in range(100)])
