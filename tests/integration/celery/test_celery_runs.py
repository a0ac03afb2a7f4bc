"""The Celery executor with real processes: two schedulers, two workers, Redis or RabbitMQ."""

from __future__ import annotations

from collections import Counter

from millstream.model.states import DagRunState, TaskState
from tests.integration.celery.celery_helpers import CeleryHome, worker_ready
from tests.integration.engine.engine_helpers import wait_for

FAN_DAG = """
    import os
    import time
    from datetime import datetime

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    LEDGER = {ledger!r}

    def work(**context):
        ti = context["ti"]
        with open(LEDGER, "a") as ledger:
            ledger.write(f"{{ti.task_id}} {{ti.try_number}} {{os.getpid()}}\\n")
        print("working on", ti.task_id)
        time.sleep(1.0)
        return ti.task_id

    with DAG("celery_fan", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        gather = PythonOperator(task_id="gather", python_callable=work)
        [PythonOperator(task_id=f"work{{i}}", python_callable=work) for i in range(8)] >> gather
        PythonOperator(task_id="special", python_callable=work, queue={special!r}) >> gather
"""


def test_two_schedulers_and_two_workers_run_every_try_once_on_both_workers(
    home: CeleryHome,
) -> None:
    ledger = home.scratch / "ledger.txt"
    special = f"{home.queue}-special"
    home.queues.append(special)
    home.write_dag("celery_fan.py", FAN_DAG.format(ledger=str(ledger), special=special))
    home.set(scheduler__parallelism=8)
    # only w2 takes the special queue's tries
    w1, w2 = home.start_worker("w1"), home.start_worker("w2", "--queues",
                                                        f"{home.queue},{special}")
    first, second = home.start("scheduler"), home.start("scheduler")
    wait_for(lambda: worker_ready(w1) and worker_ready(w2), 60, "both workers to be ready",
             home.tails)
    wait_for(lambda: home.parsed("celery_fan"), 60, "the DAG to be parsed", home.tails)
    run_id = home.trigger("celery_fan")

    wait_for(lambda: home.finished_run("celery_fan", run_id), 120, "the run to finish",
             lambda: f"{home.describe('celery_fan')}\n{home.tails()}")
    run = home.run("celery_fan", run_id)
    assert run is not None and run.state is DagRunState.SUCCESS, home.describe("celery_fan")
    assert first.popen.poll() is None and second.popen.poll() is None, "a scheduler died"

    instances = home.instances("celery_fan", run_id)
    assert {ti.state for ti in instances.values()} == {TaskState.SUCCESS}
    # the tries ran on both workers, each recorded under its worker's name
    hosts = Counter(ti.hostname for ti in instances.values())
    assert set(hosts) == {"w1@127.0.0.1", "w2@127.0.0.1"}, hosts
    assert instances["special"].hostname == "w2@127.0.0.1"  # routed by the task's queue
    # every try ran exactly once, in the local executor's worker processes, never in the
    # Celery worker's own
    lines = [line.split() for line in ledger.read_text().splitlines()]
    assert Counter(task for task, _, _ in lines) == Counter(set(instances))
    assert {number for _, number, _ in lines} == {"1"}
    assert not {int(pid) for _, _, pid in lines} & {w1.pid, w2.pid}
    # each instance shows the process its try ran in (written by a heartbeat, or with the
    # outcome at the latest)
    assert {label: ti.pid for label, ti in instances.items()} == {
        task: int(pid) for task, _, pid in lines}
    # each try's log is in the log folder of the worker that ran it, and its XCom is stored
    for label, ti in instances.items():
        folder = home.worker_logs(ti.hostname.split("@")[0])
        logs = list(folder.rglob("1.log"))
        assert any(f"working on {label}" in p.read_text() for p in logs if label in str(p))
    store = home.store()
    assert store.xcoms.entries(instances["gather"].key) == [("return_value", '"gather"')]
