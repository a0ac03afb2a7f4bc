"""A DAG for the web UI tests: a task group, a mapped task, templates, XComs, and markup in
its documentation that the UI must sanitize or escape."""

from datetime import datetime

from millstream import DAG, Label, Param, TaskGroup
from millstream.operators.bash import BashOperator
from millstream.operators.python import PythonOperator


def extract():
    return {"rows": [1, 2, 3], "note": "<b>not bold</b>"}


def double(ti=None):
    return [n * 2 for n in ti.xcom_pull(task_ids="extract")["rows"]]


def check(ti=None):
    return sum(ti.xcom_pull(task_ids="transform.double"))


def square(n):
    return n * n


with DAG(
    "ui_etl",
    description="Sales <b>ETL</b> & <script>alert('description')</script>",
    doc_md="# Sales ETL\n\nLoads **sales**.\n\n<script>alert('doc')</script>\n\n"
           "[bad link](javascript:alert(1)) [good link](https://example.com/docs)\n",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["ui", "etl"],
    params={"n": Param(3, type="integer", minimum=0, description="How many rows")},
    default_args={"owner": "data-team"},
) as dag:
    first = PythonOperator(task_id="extract", python_callable=extract)
    with TaskGroup("transform") as transform:
        doubled = PythonOperator(task_id="double", python_callable=double)
        checked = PythonOperator(task_id="check", python_callable=check)
        doubled >> checked
    squares = PythonOperator.partial(task_id="square", python_callable=square).expand(
        op_args=[[1], [2], [3]])
    load = BashOperator(task_id="load", bash_command="echo loading {{ ds }} n={{ params.n }}")
    first >> transform >> load
    first >> Label("fan out") >> squares
