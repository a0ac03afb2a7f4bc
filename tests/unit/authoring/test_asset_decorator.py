"""``@asset``: the asset, and its one-task DAG that updates it."""

from __future__ import annotations

from millstream import Asset
from millstream.authoring.asset_decorator import asset


def test_an_asset_function_is_an_asset_and_a_dag_that_updates_it() -> None:
    seen: dict[str, object] = {}

    @asset(uri="s3://lake/orders.csv", schedule=None)
    def orders(self, context, customers):
        seen.update(self=self, run_id=context["run_id"], customers=customers)
        return "done"

    assert isinstance(orders, Asset)
    assert (orders.name, orders.uri) == ("orders", "s3://lake/orders.csv")
    dag = orders.dag
    assert dag.dag_id == "orders" and dag.task_ids == ["orders"]
    assert dag.task_dict["orders"].outlets == [orders]
    assert dag.task_dict["orders"].inlets == [Asset("customers")]
    result = dag.test()
    assert result.state == "success"
    assert seen["self"] is orders and seen["customers"] == Asset("customers")
    assert str(seen["run_id"]).startswith("manual__")


def test_context_keys_are_passed_and_other_names_are_assets_made_before() -> None:
    seen: dict[str, object] = {}
    upstream = Asset("raw_scores", "s3://lake/raw_scores.csv")

    @asset(uri="s3://lake/scores.csv", schedule=None)
    def scores(self, outlet_events, dag_run, raw_scores):
        outlet_events[self].add_partitions(["us", "eu"])
        seen.update(keys=outlet_events[self].partition_keys, partition=dag_run.partition_key,
                    raw=raw_scores)

    assert scores.dag.task_dict["scores"].inlets == [upstream]  # found by its name
    assert scores.dag.test().state == "success"
    assert seen == {"keys": ["us", "eu"], "partition": None, "raw": upstream}
    assert Asset.ref(name="scores") == scores
