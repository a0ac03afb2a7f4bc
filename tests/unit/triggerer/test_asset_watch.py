"""Asset watchers on the triggerer: each event of a watcher's trigger is an event of its
asset, the trigger is started again for the next one, and one triggerer leads; and the
triggerer's hourly removal of expired task state store keys."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from millstream import DAG, Asset
from millstream.authoring.asset_watchers import AssetWatcher
from millstream.operators.empty import EmptyOperator
from millstream.parsing.serialize import DagStructure
from millstream.services.asset_watchers import StoredAssetWatchers, watch_specs_of
from millstream.store.memory import MemoryStore
from millstream.triggerer.asset_watch import RETRY_AFTER, WatchSpec, is_watch_leader
from millstream.triggerer.base import serialize_trigger
from millstream.triggerer.job import JOB_TYPE, TriggererJob
from millstream.triggerer.triggers.file import FileDeleteTrigger
from tests.autocommit import autocommit

from .sample_triggers import RaisingTrigger

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _spec(uri: str, name: str, trigger: object) -> WatchSpec:
    classpath, kwargs = serialize_trigger(trigger)
    return WatchSpec(uri, name, classpath, kwargs)


@pytest.fixture
def store() -> MemoryStore:
    return autocommit(MemoryStore())


@pytest.fixture
def jobs() -> Iterator[list[TriggererJob]]:
    made: list[TriggererJob] = []
    yield made
    for job in made:
        job.shutdown()


def _until_recorded(job: TriggererJob, store: MemoryStore, uri: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job.tick(NOW)
        if len(store.assets.events(uri)) >= count:
            return
        job.watchers.runner.wait(0.05)  # type: ignore[union-attr]
    raise AssertionError(f"{uri}: fewer than {count} events")


def test_each_new_file_is_one_event_of_the_watched_asset(
    store: MemoryStore, jobs: list[TriggererJob], tmp_path: Path,
) -> None:
    flag = tmp_path / "ready"
    spec = _spec("s3://lake/landing", "ready_flag", FileDeleteTrigger(str(flag), 0.01))
    job = TriggererJob(store, watch_source=lambda _: {spec.key: spec})
    jobs.append(job)
    job.runner.start()
    job.tick(NOW)
    assert job.watchers is not None and job.watchers.running() == {spec.key}
    assert store.assets.events("s3://lake/landing") == []
    flag.write_text("1")
    _until_recorded(job, store, "s3://lake/landing", 1)
    (event,) = store.assets.events("s3://lake/landing")
    assert event.extra == {"from_trigger": True,
                           "payload": {"status": "success", "filepath": str(flag)}}
    assert not flag.exists()
    assert job.watchers.running() == {spec.key}  # started again for the next file
    flag.write_text("2")
    _until_recorded(job, store, "s3://lake/landing", 2)


def test_a_failing_watcher_rests_then_starts_again(
    store: MemoryStore, jobs: list[TriggererJob],
) -> None:
    spec = _spec("s3://lake/broken", "broken", RaisingTrigger("no such bucket"))
    job = TriggererJob(store, watch_source=lambda _: {spec.key: spec})
    jobs.append(job)
    job.runner.start()
    job.tick(NOW)
    assert job.watchers is not None
    job.watchers.runner.wait(5)
    job.tick(NOW)
    assert store.assets.events("s3://lake/broken") == []
    assert job.watchers.running() == set()  # resting
    job.tick(NOW + RETRY_AFTER)
    assert job.watchers.running() == {spec.key}


def test_one_triggerer_runs_the_watchers(store: MemoryStore) -> None:
    store.jobs.heartbeat(JOB_TYPE, "host-b", 20, NOW)
    store.jobs.heartbeat(JOB_TYPE, "host-a", 10, NOW - timedelta(minutes=5))  # gone
    since = NOW - timedelta(seconds=30)
    assert is_watch_leader(store, "host-b", 20, JOB_TYPE, since)
    assert is_watch_leader(store, "host-a", 5, JOB_TYPE, since)  # a new one first by host
    store.jobs.heartbeat(JOB_TYPE, "host-a", 10, NOW)
    assert not is_watch_leader(store, "host-b", 20, JOB_TYPE, since)
    assert [j.pid for j in store.jobs.alive(JOB_TYPE, since)] == [10, 20]


def test_the_watchers_come_from_the_active_unpaused_dags_schedules(store: MemoryStore) -> None:
    landing = Asset("landing", watchers=[
        AssetWatcher("flag", FileDeleteTrigger("/data/_READY")),
    ])
    with DAG("on_landing", schedule=[landing, Asset("other")]) as dag:
        EmptyOperator(task_id="load")
    structure = DagStructure.from_dag(dag)
    (spec,) = watch_specs_of(structure.data)
    assert (spec.asset_uri, spec.name, spec.kwargs["filepath"]) == (
        "landing", "flag", "/data/_READY")
    store.dags.upsert("on_landing", "/dags/a.py", structure.to_json(), structure.version, NOW)
    source = StoredAssetWatchers(refresh=timedelta(0))
    assert source(store) == {spec.key: spec}
    store.dags.set_paused("on_landing", True)
    assert source(store) == {}


def test_the_triggerer_removes_expired_task_state_keys_hourly(store: MemoryStore) -> None:
    from millstream.store.records import DagRunRecord
    from millstream.store.state_store_records import TaskStateScope

    store.runs.add(DagRunRecord("etl", "r1", NOW, NOW, NOW))
    scope = TaskStateScope("etl", "r1", "load")
    store.state_stores.set_task_state(scope, "short", "1", NOW + timedelta(minutes=1), NOW)
    store.state_stores.set_task_state(scope, "kept", "2", None, NOW)
    job = TriggererJob(store)
    job.runner.start()
    try:
        job.tick(NOW)
        store.state_stores.set_task_state(scope, "later", "3", NOW + timedelta(minutes=1), NOW)
        job.tick(NOW + timedelta(minutes=30))  # not yet an hour since the last purge
        assert store.state_stores.task_state_keys(scope, NOW) == ["kept", "later", "short"]
        job.tick(NOW + timedelta(hours=1))
        assert store.state_stores.task_state_keys(scope, NOW) == ["kept"]
    finally:
        job.shutdown()
