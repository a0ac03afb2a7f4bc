"""``outlet_events`` and ``inlet_events`` in a task's context, and alias outlets."""

from __future__ import annotations

from millstream import DAG, Asset, task
from millstream.authoring.asset_expressions import AssetAlias

SALES = Asset("s3://lake/sales.csv")


def test_outlet_events_take_extra_and_assets_added_through_an_alias() -> None:
    seen: dict[str, object] = {}
    alias = AssetAlias("daily-exports")
    with DAG("producer", schedule=None) as dag:

        @task(outlets=[SALES, alias])
        def produce(*, outlet_events=None, outlets=None):
            outlet_events[SALES].extra = {"rows": 3}
            outlet_events[alias].add(Asset("s3://lake/export-1.csv"), extra={"part": 1})
            seen["extra"] = outlet_events[SALES].extra
            seen["added"] = outlet_events[AssetAlias("daily-exports")].asset_alias_events
            seen["outlets"] = outlets

        produce()
    assert dag.task_dict["produce"].outlets == [SALES]  # the alias names assets at run time
    assert dag.test().state == "success"
    assert seen["extra"] == {"rows": 3}
    assert seen["added"] == [(Asset("s3://lake/export-1.csv"), {"part": 1})]
    assert seen["outlets"] == [SALES]


def test_inlet_events_list_the_assets_events_oldest_first() -> None:
    seen: dict[str, object] = {}
    with DAG("consumer", schedule=None) as dag:

        @task(inlets=[SALES])
        def consume(*, inlet_events=None):
            seen["events"] = list(inlet_events[SALES])
            seen["by_uri"] = inlet_events.for_asset(uri=SALES.uri)
            seen["alias"] = inlet_events.for_asset_alias("daily-exports")

        consume()
    assert dag.test().state == "success"
    assert seen == {"events": [], "by_uri": [], "alias": []}


def test_inlet_events_read_the_metadata_store() -> None:
    from datetime import UTC, datetime

    from millstream.runtime.outlet_events import InletEventAccessors
    from millstream.store.current import using_store
    from millstream.store.memory import MemoryStore

    store = MemoryStore()
    with store.transaction():
        for day in (1, 2, 3):
            store.assets.record_event(SALES.uri, datetime(2026, 1, day, tzinfo=UTC),
                                      extra={"day": day})
    with using_store(store):
        events = InletEventAccessors()[SALES]
    assert [e.extra["day"] for e in events] == [1, 2, 3]
    assert events[-1].uri == SALES.uri
