"""Tries that continue on Celery workers: a rescheduled sensor's next pokes, and a deferred
sensor resumed after the triggerer fired, each a new step of the same try."""

from __future__ import annotations

from pathlib import Path

from millstream.model.states import TaskState
from tests.integration.celery.celery_helpers import CeleryHome
from tests.integration.celery.test_celery_faults import started, succeeded
from tests.integration.engine.engine_helpers import wait_for

SENSORS = """
    from datetime import datetime

    from millstream import DAG
    from millstream.operators.empty import EmptyOperator
    from millstream.sensors import FileSensor

    with DAG("celery_sensors", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        polled = FileSensor(task_id="polled", filepath="ready.csv", fs_conn_id="landing",
                            timeout=120, poke_interval=0.5, mode="reschedule")
        deferred = FileSensor(task_id="deferred", filepath="ready.csv", fs_conn_id="landing",
                              timeout=120, poke_interval=0.5, deferrable=True)
        [polled, deferred] >> EmptyOperator(task_id="publish")
"""


def test_rescheduled_and_deferred_sensors_continue_their_try_on_the_workers(
    redis_home: CeleryHome, tmp_path: Path,
) -> None:
    home = redis_home
    landing = tmp_path / "landing"
    landing.mkdir()
    home.settings_env["MILLSTREAM_CONN_LANDING"] = f"fs://?path={landing}"
    home.write_dag("celery_sensors.py", SENSORS)
    home.start_worker("w1")
    home.start_worker("w2")
    home.start("scheduler")
    home.start("triggerer")
    run_id = started(home, "celery_sensors")

    def waiting() -> bool:
        instances = home.instances("celery_sensors", run_id)
        store = home.store()
        pokes = store.task_reschedules.for_try(instances["polled"].key, 1)
        return instances["deferred"].state is TaskState.DEFERRED and len(pokes) >= 2

    wait_for(waiting, 90, "one sensor to defer and the other to poke twice",
             lambda: home.describe("celery_sensors") + "\n" + home.tails())
    (landing / "ready.csv").write_text("id\n1\n")
    succeeded(home, "celery_sensors", run_id)
    instances = home.instances("celery_sensors", run_id)
    assert {label: (ti.state, ti.try_number) for label, ti in instances.items()} == {
        "polled": (TaskState.SUCCESS, 1), "deferred": (TaskState.SUCCESS, 1),
        "publish": (TaskState.SUCCESS, 1)}
    assert all(ti.hostname and ti.hostname.startswith("w") for ti in instances.values())
