"""taskflow_sales_summary: a TaskFlow pipeline that totals a day of orders per region.

Shows the decorator style: ``@dag`` and ``@task``, a task with ``multiple_outputs``,
dynamic task mapping (one ``region_total`` instance per region found at run time), a
TaskGroup, and a BashOperator rendering ``{{ ds }}``. The orders are a fixed sample in this
file, so the DAG runs anywhere with no database or network.
"""

from datetime import datetime, timedelta

from millstream import TaskGroup, dag, task
from millstream.operators.bash import BashOperator

SAMPLE_ORDERS = [
    {"order_id": 1, "region": "north", "amount": 120.0},
    {"order_id": 2, "region": "south", "amount": 80.5},
    {"order_id": 3, "region": "north", "amount": 42.0},
    {"order_id": 4, "region": "west", "amount": 310.0},
    {"order_id": 5, "region": "south", "amount": 19.5},
]


@dag(
    dag_id="taskflow_sales_summary",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "taskflow"],
    default_args={"owner": "analytics", "retries": 1, "retry_delay": timedelta(minutes=1)},
)
def taskflow_sales_summary():
    @task
    def extract_orders() -> list[dict]:
        """The day's orders; a real pipeline would query them for the run's interval."""
        return SAMPLE_ORDERS

    @task(multiple_outputs=True)
    def split_by_region(orders: list[dict]) -> dict:
        """Which regions have orders, and how many orders there are in all."""
        regions = sorted({order["region"] for order in orders})
        return {"regions": regions, "order_count": len(orders)}

    @task
    def region_total(region: str, orders: list[dict]) -> dict:
        """One mapped instance per region: the sum of that region's orders."""
        total = sum(order["amount"] for order in orders if order["region"] == region)
        return {"region": region, "total": round(total, 2)}

    @task
    def summarise(totals: list[dict], order_count: int) -> dict:
        """Fold the per-region results into one summary for the report."""
        best = max(totals, key=lambda row: row["total"])
        return {
            "order_count": order_count,
            "grand_total": round(sum(row["total"] for row in totals), 2),
            "top_region": best["region"],
        }

    orders = extract_orders()
    split = split_by_region(orders)
    # The number of instances is only known once split_by_region has run.
    totals = region_total.partial(orders=orders).expand(region=split["regions"])

    with TaskGroup("report"):
        summary = summarise(totals, split["order_count"])
        announce = BashOperator(
            task_id="announce",
            bash_command=(
                "echo \"sales for {{ ds }}: "
                "{{ ti.xcom_pull(task_ids='report.summarise')['grand_total'] }} "
                "across {{ ti.xcom_pull(task_ids='split_by_region', key='order_count') }} orders\""
            ),
        )
        summary >> announce


taskflow_sales_summary_dag = taskflow_sales_summary()
