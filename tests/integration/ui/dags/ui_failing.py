"""A DAG for the web UI tests whose middle task fails, so its downstream is upstream_failed."""

from datetime import datetime

from millstream import DAG
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator


def boom():
    raise RuntimeError("the warehouse is on fire")


with DAG("ui_failing", schedule=None, start_date=datetime(2026, 1, 1), tags=["ops"]) as dag:
    EmptyOperator(task_id="start") >> PythonOperator(task_id="explode", python_callable=boom) \
        >> EmptyOperator(task_id="after")
