"""Assets: validation, identity, DAG schedules on assets, task outlets, and their serialization."""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, datetime, timedelta

import pytest

import millstream
from millstream import DAG, Asset, task
from millstream.authoring.assets import AssetSchedule, asset_schedule
from millstream.exceptions import DagDefinitionError
from millstream.model.intervals import DataInterval
from millstream.operators.empty import EmptyOperator
from millstream.parsing.serialize import DagStructure

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_an_asset_is_named_by_its_uri_and_the_uri_defaults_to_the_name() -> None:
    sales = Asset("warehouse.sales_fact")
    assert (sales.name, sales.uri, sales.extra) == ("warehouse.sales_fact",) * 2 + ({},)
    lake = Asset(uri="s3://lake/sales/", extra={"format": "parquet"})
    assert (lake.name, lake.uri, lake.extra) == ("s3://lake/sales/", "s3://lake/sales/",
                                                 {"format": "parquet"})
    both = Asset("sales", "postgres://db/public/sales")
    assert (both.name, both.uri) == ("sales", "postgres://db/public/sales")
    assert repr(sales) == "Asset('warehouse.sales_fact')"
    assert repr(both) == "Asset(name='sales', uri='postgres://db/public/sales')"
    assert millstream.Asset is Asset and "Asset" in millstream.__all__


def test_assets_with_the_same_name_and_uri_are_equal_whatever_their_extra() -> None:
    assert Asset("a", extra={"v": 1}) == Asset("a", extra={"v": 2})
    assert hash(Asset("a")) == hash(Asset("a", extra={"v": 2}))
    assert Asset("a") != Asset("b")
    assert Asset("a", "s3://x/a") != Asset("a")
    assert len({Asset("a"), Asset("a"), Asset("b")}) == 2


def test_assets_cannot_be_changed_and_survive_copy_and_pickle() -> None:
    asset = Asset("sales", "s3://lake/sales", extra={"owner": "finance"})
    with pytest.raises(AttributeError, match="cannot be changed"):
        asset.uri = "s3://elsewhere"  # type: ignore[misc]
    for clone in (copy.copy(asset), copy.deepcopy(asset), pickle.loads(pickle.dumps(asset))):
        assert clone == asset and clone.extra == {"owner": "finance"}
    assert Asset.from_json(asset.as_json()) == asset


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs a name or a uri"),
        ({"name": ""}, "name must not be empty"),
        ({"name": "   "}, "name must not be empty"),
        ({"name": " sales"}, "must not start or end with whitespace"),
        ({"name": 42}, "name must be a string, got int"),
        ({"name": "a\tb"}, "must not contain control characters"),
        ({"name": "x" * 1501}, "1501 characters long; at most 1500"),
        ({"uri": "ventes-élevées"}, "must be ASCII"),
        ({"uri": "airflow://dataset/x"}, "scheme 'airflow' is reserved"),
        ({"uri": "millstream://x"}, "scheme 'millstream' is reserved"),
        ({"uri": "s3://"}, "has a scheme but nothing after it"),
        ({"name": "a", "extra": ["not", "a", "dict"]}, "extra must be a dict, got list"),
        ({"name": "a", "extra": {1: "x"}}, "extra keys must be strings"),
        ({"name": "a", "extra": {"when": NOW}}, "extra must be JSON-serializable"),
        ({"name": "a", "group": ""}, "group must not be empty"),
    ],
)
def test_bad_assets_are_definition_errors_saying_what_is_wrong(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(DagDefinitionError, match=message):
        Asset(**kwargs)  # type: ignore[arg-type]


def test_conditional_asset_expressions_schedule_on_any_or_all() -> None:
    a, b, c = Asset("a"), Asset("b"), Asset("c")
    dag = DAG("conditional", schedule=a | (b & c), start_date=NOW)
    assert isinstance(dag.timetable, AssetSchedule)
    assert dag.timetable.uris == ("a", "b", "c")
    assert dag.timetable.is_due({"a"}) and dag.timetable.is_due({"b", "c"})
    assert not dag.timetable.is_due({"b"}) and not dag.timetable.is_due(set())
    with pytest.raises(DagDefinitionError, match="combines Assets"):
        a | "b"


def test_a_dag_scheduled_on_assets_has_no_time_based_runs() -> None:
    sales, customers = Asset("sales"), Asset("customers")
    dag = DAG("reporting", schedule=[sales, customers], start_date=NOW - timedelta(days=9),
              catchup=True)
    assert isinstance(dag.timetable, AssetSchedule)
    assert dag.timetable.uris == ("sales", "customers")
    assert dag.schedule == [sales, customers]
    assert dag.timetable.next_interval(None, dag.start_date, None, True, NOW) is None
    assert dag.timetable.missed_intervals(None, dag.start_date, None, True, NOW) == []
    assert dag.timetable.next_run_after(NOW, start_date=dag.start_date) is None
    # A manual run of it covers the point interval at its logical date.
    assert dag.timetable.data_interval_for(NOW) == DataInterval(NOW, NOW)
    assert DAG("single", schedule=sales).timetable == AssetSchedule((sales,))
    assert asset_schedule("@daily") is None and asset_schedule(None) is None


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ([], "empty list of assets; use None"),
        ([Asset("a"), "b"], "'b' of type str; a list schedule may hold only Asset objects"),
        ([Asset("a"), Asset("a")], "lists the asset 'a' more than once"),
        ((Asset("a"), Asset("b", "a")), "lists the asset 'a' more than once"),
    ],
)
def test_bad_asset_schedules_name_the_dag(schedule: object, message: str) -> None:
    with pytest.raises(DagDefinitionError, match=f"DAG 'bad': bad schedule: .*{message}"):
        DAG("bad", schedule=schedule)  # type: ignore[arg-type]


def test_outlets_must_be_assets_and_are_kept_once_each() -> None:
    sales = Asset("sales")
    with DAG("etl", schedule=None) as dag:
        load = EmptyOperator(task_id="load", outlets=[sales, Asset("sales"), Asset("b")])
        single = EmptyOperator(task_id="single", outlets=sales)  # type: ignore[arg-type]
        plain = EmptyOperator(task_id="plain")
    assert load.outlets == [sales, Asset("b")]
    assert single.outlets == [sales] and plain.outlets == []
    with pytest.raises(DagDefinitionError,
                       match=r"DAG 'etl', task 'bad': outlets may hold only Asset objects, got "
                             r"'sales' of type str \(write Asset\('sales'\)\)"), dag:
        EmptyOperator(task_id="bad", outlets=["sales"])
    with pytest.raises(DagDefinitionError, match="outlets must be a list of Asset objects"), dag:
        EmptyOperator(task_id="worse", outlets="sales")  # type: ignore[arg-type]
    assert "bad" not in dag.task_dict


def test_taskflow_and_mapped_tasks_take_outlets_too() -> None:
    sales = Asset("sales")
    with DAG("flow", schedule=None) as dag:
        @task(outlets=[sales])
        def load() -> int:
            return 1

        load()
        EmptyOperator.partial(task_id="mapped", outlets=[sales]).expand(
            doc_md=["a", "b"]
        )
    assert dag.get_task("load").outlets == [sales]
    assert dag.get_task("mapped").outlets == [sales]


def test_asset_schedules_and_outlets_survive_serialization() -> None:
    sales = Asset("sales", "s3://lake/sales", extra={"format": "parquet"})
    with DAG("consumer", schedule=[sales, Asset("customers")]) as dag:
        EmptyOperator(task_id="report", outlets=[Asset("report")])
    structure = DagStructure.from_dag(dag)
    assert structure.timetable == dag.timetable
    assert structure.timetable.assets[0].extra == {"format": "parquet"}  # type: ignore[attr-defined]
    assert structure.schedule_display == "assets: s3://lake/sales, customers"
    assert structure.task_dict["report"].outlets == [Asset("report")]
    again = DagStructure.from_json_text(structure.to_json())
    assert again.version == structure.version
    assert again.timetable == dag.timetable
    assert again.task_dict["report"].outlets == [Asset("report")]
