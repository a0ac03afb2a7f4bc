"""A DAG for the web UI tests that starts paused and never ran."""

from datetime import datetime

from millstream import DAG
from millstream.operators.empty import EmptyOperator

with DAG("ui_paused", schedule="0 6 * * *", start_date=datetime(2026, 1, 1), tags=["other"],
         is_paused_upon_creation=True) as dag:
    EmptyOperator(task_id="only")
