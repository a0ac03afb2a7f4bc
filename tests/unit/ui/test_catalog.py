"""The UI's cache of parsed DAG structures, and when a DAG's next run is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from millstream import DAG
from millstream.model.intervals import DataInterval
from millstream.operators.empty import EmptyOperator
from millstream.parsing.serialize import DagStructure
from millstream.store.memory import MemoryStore
from millstream.ui.catalog import DagCatalog, next_run
from tests.autocommit import autocommit

START = datetime(2026, 1, 1, tzinfo=UTC)


def structure(dag_id: str, schedule: object, catchup: bool = False, **kwargs: object
              ) -> DagStructure:
    with DAG(dag_id, schedule=schedule, start_date=START, catchup=catchup,
             **kwargs) as dag:  # type: ignore[arg-type]
        EmptyOperator(task_id="t", owner="ana")
    return DagStructure.from_dag(dag)


def scheduled(day: int) -> DataInterval:
    """The resume point left by a scheduled daily run on ``day``."""
    start = START + timedelta(days=day)
    return DataInterval(start, start + timedelta(days=1))


def test_next_run_of_a_daily_dag() -> None:
    daily = structure("d", "@daily")
    now = datetime(2026, 1, 10, 15, tzinfo=UTC)
    # Never ran, no catchup: the latest interval that has ended is due now.
    assert next_run(daily, None, now) == (datetime(2026, 1, 9, tzinfo=UTC),
                                        datetime(2026, 1, 10, tzinfo=UTC))
    # Its run exists: the next one is tomorrow's interval start, due at midnight.
    assert next_run(daily, scheduled(8), now) == (datetime(2026, 1, 10, tzinfo=UTC),
                                                    datetime(2026, 1, 11, tzinfo=UTC))
    catching_up = structure("c", "@daily", catchup=True)
    assert next_run(catching_up, scheduled(2), now)[0] == datetime(2026, 1, 4, tzinfo=UTC)


def test_next_run_of_other_schedules() -> None:
    now = datetime(2026, 1, 10, 15, tzinfo=UTC)
    assert next_run(structure("n", None), None, now) is None
    hourly = structure("h", timedelta(hours=6))
    assert next_run(hourly, None, now) == (datetime(2026, 1, 10, 6, tzinfo=UTC),
                                         datetime(2026, 1, 10, 12, tzinfo=UTC))
    once = structure("o", "@once")
    assert next_run(once, None, now) == (START, START)
    assert next_run(once, scheduled(0), now) is None


def test_the_catalog_parses_each_version_once() -> None:
    store = autocommit(MemoryStore())
    first = structure("etl", "@daily", tags=["b", "a"], description="Sales loads")
    store.dags.upsert("etl", "/d/etl.py", first.to_json(), first.version, START)
    other = structure("other", None)
    store.dags.upsert("other", "/d/other.py", other.to_json(), other.version, START)
    catalog = DagCatalog(max_cached=8)
    found = catalog.summaries(store, store.dags.list())
    assert set(found) == {"etl", "other"}
    etl = found["etl"]
    assert (etl.tags, etl.owners, etl.schedule) == (("a", "b"), ("ana",), "@daily")
    assert etl.matches("SALES", []) and etl.matches("ana", ["a"]) and not etl.matches("", ["z"])
    assert catalog.summaries(store, store.dags.list())["etl"] is etl  # cached
    assert catalog.structure(store, "etl") is etl.structure
    changed = structure("etl", "@hourly")
    store.dags.upsert("etl", "/d/etl.py", changed.to_json(), changed.version, START)
    assert catalog.summaries(store, store.dags.list())["etl"].schedule == "@hourly"
    assert catalog.structure(store, "etl", first.version) is etl.structure  # old runs' one
    assert catalog.structure(store, "nope") is None


def test_the_catalog_forgets_the_least_recently_used() -> None:
    store = autocommit(MemoryStore())
    catalog = DagCatalog(max_cached=2)
    for name in ("a", "b", "c"):
        s = structure(name, None)
        store.dags.upsert(name, None, s.to_json(), s.version, START)
    first = catalog.structure(store, "a")
    catalog.structure(store, "b")
    catalog.structure(store, "c")
    again = catalog.structure(store, "a")
    assert again is not first and again is not None and again.dag_id == "a"


def test_the_next_run_is_remembered_until_it_is_due() -> None:
    daily = structure("d", "@daily")
    catalog = DagCatalog()
    before = datetime(2026, 1, 10, 23, 59, 30, tzinfo=UTC)
    ran = scheduled(8)
    expected = (datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 1, 11, tzinfo=UTC))
    assert catalog.next_run(daily, ran, before) == expected
    assert catalog.next_run(daily, ran, before + timedelta(seconds=29)) == expected
    # Due at midnight: from then on the answer is worked out again.
    after = datetime(2026, 1, 11, 0, 0, 1, tzinfo=UTC)
    assert catalog.next_run(daily, ran, after) == next_run(daily, ran, after) == expected
    newer = scheduled(9)  # a newer scheduled run is a different question
    assert catalog.next_run(daily, newer, after) == (datetime(2026, 1, 11, tzinfo=UTC),
                                                     datetime(2026, 1, 12, tzinfo=UTC))
