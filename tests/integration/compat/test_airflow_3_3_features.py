"""Airflow 3.1-3.3 features through the compatibility layer: deadline alerts with their
callback objects, the task and asset state stores, retry policies and asset watchers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from millstream.compat import airflow as airflow_compat
from millstream.parsing import load_dag_file
from millstream.runtime.dag_callbacks import SlaMiss, call_sla_miss_callback

DEADLINE_FILE = '''
from datetime import datetime, timedelta

from airflow.sdk import DAG, AsyncCallback, BaseNotifier, DeadlineAlert, DeadlineReference, task
from airflow.sdk.definitions.deadline import SyncCallback

SEEN = []


class Recorder(BaseNotifier):
    def __init__(self, text):
        self.text = text

    def notify(self, context):
        SEEN.append(("notifier", self.text, context["run_id"]))


async def late(context, **kwargs):
    SEEN.append(("async", kwargs["team"], context["run_id"]))


with DAG("deadlined", start_date=datetime(2026, 1, 1), schedule=None, deadline=[
    DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=timedelta(minutes=15),
                  callback=AsyncCallback(Recorder, kwargs={"text": "late!"})),
    DeadlineAlert(reference=DeadlineReference.DAGRUN_LOGICAL_DATE, interval=timedelta(hours=1),
                  callback=SyncCallback(late, kwargs={"team": "data"})),
]) as dag:
    @task
    def work():
        return 1

    work()
'''

STORES_FILE = '''
from datetime import datetime, timedelta

from airflow.sdk import DAG, Asset, ExceptionRetryPolicy, RetryAction, RetryRule, task
from airflow.sdk.execution_time.context import NEVER_EXPIRE

ORDERS = Asset(name="orders/daily", uri="s3://warehouse/orders/daily")
POLICY = ExceptionRetryPolicy(rules=[
    RetryRule(exception="builtins.PermissionError", action=RetryAction.FAIL),
    RetryRule(exception=RuntimeError, retry_delay=timedelta(seconds=1)),
])

with DAG("stores", start_date=datetime(2026, 1, 1), schedule=None) as dag:
    @task(retries=3, retry_policy=POLICY, outlets=[ORDERS])
    def load(task_state_store=None, asset_state_store=None, ti=None):
        if task_state_store.get("job") is None:
            task_state_store.set("job", "job-1", retention=NEVER_EXPIRE)
            raise RuntimeError("lost after submitting")
        state = asset_state_store[ORDERS]
        state.set("runs", state.get("runs", default=0) + 1)
        return [task_state_store.get("job"), ti.try_number, state.get("runs")]

    @task(retries=3, retry_policy=POLICY)
    def forbidden():
        raise PermissionError("no access")

    load()
    forbidden()
'''

WATCHER_FILE = '''
from airflow.providers.standard.triggers.file import FileDeleteTrigger
from airflow.sdk import DAG, Asset, AssetWatcher, task

landing = Asset("landing", watchers=[
    AssetWatcher(name="landing_watch", trigger=FileDeleteTrigger(filepath="{path}")),
])

with DAG("watched", schedule=[landing]) as dag:
    @task
    def work():
        return "ran"

    work()
'''


def _load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> object:
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    monkeypatch.setenv(airflow_compat.ENV_VAR, "true")
    return load_dag_file(path)[name]


def test_deadline_alerts_call_airflows_callback_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    dag = _load(tmp_path, monkeypatch, "deadlined", DEADLINE_FILE)
    assert [a.reference for a in dag.deadline] == ["dagrun_queued_at", "dagrun_logical_date"]
    due = datetime(2026, 1, 1, 1, tzinfo=UTC)
    call_sla_miss_callback(dag, [SlaMiss("deadlined", "r1", "", due, kind="deadline", alert=0),
                                 SlaMiss("deadlined", "r1", "", due, kind="deadline", alert=1)])
    seen = __import__(dag.task_dict["work"].python_callable.__module__).SEEN
    assert seen == [("notifier", "late!", "r1"), ("async", "data", "r1")]


def test_state_stores_and_retry_policies_run_from_an_airflow_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    dag = _load(tmp_path, monkeypatch, "stores", STORES_FILE)
    result = dag.test(logical_date="2026-01-01", fast_retries=True)
    assert result.task_states == {"load": "success", "forbidden": "failed"}
    assert result.xcom_pull("load") == ["job-1", 2, 1]
    tries = {t.label: t.tries for t in result.tasks}
    assert tries == {"load": 2, "forbidden": 1}  # FAIL: no retry despite retries=3


def test_an_asset_watcher_is_kept_with_its_trigger_in_the_stored_structure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    flag = tmp_path / "ready.flag"
    dag = _load(tmp_path, monkeypatch, "watched", WATCHER_FILE.format(path=flag))
    (asset,) = dag.timetable.assets
    (watcher,) = asset.watchers
    assert watcher.name == "landing_watch"
    assert watcher.classpath == "millstream.triggerer.triggers.file.FileDeleteTrigger"
    data = json.loads(json.dumps(asset.as_json()))
    assert data["watchers"] == [{"name": "landing_watch", "classpath": watcher.classpath,
                                 "kwargs": {"filepath": str(flag), "poke_interval": 5.0}}]
    assert dag.test(logical_date="2026-01-01").task_states == {"work": "success"}
