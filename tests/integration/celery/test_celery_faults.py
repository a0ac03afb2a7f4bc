"""Delivery guarantees of the Celery executor, each fault made with real processes.

A worker killed with kill -9, a message delivered twice, the broker gone for everyone,
and one worker losing its broker connection. The broker is cut with a TCP proxy the test
owns, never by stopping the shared service.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from millstream.executors.celery_app import RUN_TRY, make_app
from millstream.model.states import DagRunState, TaskState
from tests.integration.celery.celery_helpers import (
    CeleryHome,
    broker_address,
    via,
    worker_ready,
)
from tests.integration.celery.tcp_proxy import TcpProxy
from tests.integration.engine.engine_helpers import wait_for

LEDGER_TASK = """
    import time
    from datetime import datetime, timedelta

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    LEDGER = {ledger!r}

    def work(seconds, long_first_try=False, **context):
        ti = context["ti"]
        with open(LEDGER, "a") as ledger:
            ledger.write(f"{{ti.run_id}} {{ti.task_id}} {{ti.try_number}}\\n")
        time.sleep(30 if long_first_try and ti.try_number == 1 else seconds)

    with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        previous = None
        for i in range({count}):
            task = PythonOperator(task_id=f"step{{i}}", python_callable=work,
                                  op_kwargs={{"seconds": {seconds}, "long_first_try": {long}}},
                                  retries=1, retry_delay=timedelta(0))
            if previous is not None:
                previous >> task
            previous = task
"""


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def write_ledger_dag(home: CeleryHome, dag_id: str, count: int, seconds: float,
                     long_first_try: bool = False) -> Path:
    ledger = home.scratch / f"{dag_id}.ledger"
    home.write_dag(f"{dag_id}.py", LEDGER_TASK.format(
        ledger=str(ledger), dag_id=dag_id, count=count, seconds=seconds, long=long_first_try))
    return ledger


def ledger_lines(ledger: Path) -> list[tuple[str, ...]]:
    if not ledger.exists():
        return []
    return [tuple(line.split()) for line in ledger.read_text().splitlines() if line.strip()]


def started(home: CeleryHome, dag_id: str) -> str:
    wait_for(lambda: all(worker_ready(w) for w in home.workers.values()), 60,
             "the workers to be ready", home.tails)
    wait_for(lambda: home.parsed(dag_id), 60, f"{dag_id} to be parsed", home.tails)
    return home.trigger(dag_id)


def succeeded(home: CeleryHome, dag_id: str, run_id: str, timeout: float = 120) -> None:
    wait_for(lambda: home.finished_run(dag_id, run_id), timeout, f"run {run_id} to finish",
             lambda: f"{home.describe(dag_id)}\n{home.tails()}")
    run = home.run(dag_id, run_id)
    assert run is not None and run.state is DagRunState.SUCCESS, home.describe(dag_id)


def test_a_worker_killed_mid_try_is_noticed_by_its_silence_and_the_try_retried_elsewhere(
    redis_home: CeleryHome,
) -> None:
    home = redis_home
    ledger = write_ledger_dag(home, "celery_victim", 1, 0.1, long_first_try=True)
    home.start_worker("w1")
    home.start_worker("w2")
    home.start("scheduler")
    run_id = started(home, "celery_victim")
    running = wait_for(
        lambda: (ti := home.instance("celery_victim", run_id, "step0")).state
        is TaskState.RUNNING and ti.hostname and ledger_lines(ledger) and ti,
        60, "the try to run on a worker", home.tails)
    victim_name = running.hostname.split("@")[0]
    survivor = ({"w1", "w2"} - {victim_name}).pop()
    orphan = wait_for(lambda: home.instance("celery_victim", run_id, "step0").pid, 30,
                      "the try's process id to be recorded", home.tails)
    os.kill(home.workers[victim_name].pid, signal.SIGKILL)  # the whole worker, at once
    # Its try goes with it (it sleeps 30 s): no one there would record it, and it runs
    # again elsewhere.
    wait_for(lambda: not process_alive(orphan), 15, "the dead worker's try to be stopped",
             home.tails)

    succeeded(home, "celery_victim", run_id)
    ti = home.instance("celery_victim", run_id, "step0")
    assert (ti.try_number, ti.hostname) == (2, f"{survivor}@127.0.0.1")
    first = home.store().task_instances.tries(ti.key)[0]
    assert (first.try_number, first.state) == (1, TaskState.UP_FOR_RETRY)
    assert "vanished: no heartbeat" in (first.error or "")
    assert [n for _, _, n in ledger_lines(ledger)] == ["1", "2"]


def test_a_message_delivered_twice_runs_the_try_once(rabbitmq_home: CeleryHome) -> None:
    home = rabbitmq_home
    ledger = write_ledger_dag(home, "celery_once", 1, 3.0)
    home.start_worker("w1")
    home.start_worker("w2")
    home.start("scheduler")
    run_id = started(home, "celery_once")
    ti = wait_for(lambda: (t := home.instance("celery_once", run_id, "step0")).state
                  is TaskState.RUNNING and t, 60, "the try to run", home.tails)
    app = make_app(home.broker_url, home.queue)
    again = [ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number, ti.step_id]
    with app.connection_for_write() as connection:
        producer = connection.Producer()
        app.send_task(RUN_TRY, args=again, queue=home.queue, producer=producer)  # running
        succeeded(home, "celery_once", run_id)
        app.send_task(RUN_TRY, args=again, queue=home.queue, producer=producer)  # ended

    def refusals() -> int:
        return sum(w.output().count("refusing try 1") for w in home.workers.values())

    wait_for(lambda: refusals() >= 2, 60, "both second deliveries to be refused",
             home.tails)
    assert ledger_lines(ledger) == [(run_id, "step0", "1")]
    done = home.instance("celery_once", run_id, "step0")
    assert (done.state, done.try_number, done.step_id) == (TaskState.SUCCESS, 1, ti.step_id)


def test_the_broker_gone_for_everyone_mid_run_loses_and_repeats_nothing(
    home: CeleryHome,
) -> None:
    """Over Redis and over RabbitMQ."""
    proxy = TcpProxy(broker_address(home.broker_url))
    try:
        home.broker_url = via(home.broker_url, "127.0.0.1", proxy.port)
        home.set(celery__broker_url=home.broker_url)
        ledger = write_ledger_dag(home, "celery_outage", 6, 0.5)
        home.start_worker("w1")
        home.start_worker("w2")
        home.start("scheduler")
        run_id = started(home, "celery_outage")
        wait_for(lambda: len(ledger_lines(ledger)) >= 2, 60, "two steps to run", home.tails)
        proxy.cut()
        time.sleep(4)  # the outage itself: every connection closed, none accepted
        proxy.restore()
        succeeded(home, "celery_outage", run_id)
    finally:
        proxy.close()
    counts = Counter(task for _, task, _ in ledger_lines(ledger))
    assert counts == Counter({f"step{i}": 1 for i in range(6)})
    instances = home.instances("celery_outage", run_id)
    assert {ti.try_number for ti in instances.values()} == {1}


def test_a_worker_that_loses_the_broker_records_its_try_and_comes_back(
    redis_home: CeleryHome,
) -> None:
    home = redis_home
    proxy = TcpProxy(broker_address(home.broker_url))
    try:
        ledger = write_ledger_dag(home, "celery_cutoff", 1, 4.0)
        home.start_worker("w1", env={
            "MILLSTREAM__CELERY__BROKER_URL": via(home.broker_url, "127.0.0.1", proxy.port)})
        home.start("scheduler")
        first = started(home, "celery_cutoff")
        wait_for(lambda: ledger_lines(ledger), 60, "the try to start", home.tails)
        proxy.cut()  # mid-try: the outcome goes to the database, not the broker
        succeeded(home, "celery_cutoff", first)
        proxy.restore()
        second = home.trigger("celery_cutoff")  # only this worker can run it
        succeeded(home, "celery_cutoff", second)
    finally:
        proxy.close()
    assert sorted(ledger_lines(ledger)) == sorted([(first, "step0", "1"),
                                                   (second, "step0", "1")])
    for run_id in (first, second):
        assert home.instance("celery_cutoff", run_id, "step0").hostname == "w1@127.0.0.1"


def postgres_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def test_a_worker_that_loses_the_database_records_the_outcome_when_it_returns(
    redis_home: CeleryHome,
) -> None:
    home = redis_home
    home.set(scheduler__zombie_timeout_s=60)  # the outage is shorter: nothing is given up
    proxy = TcpProxy(postgres_address(home.database_url))
    try:
        ledger = write_ledger_dag(home, "celery_db_outage", 2, 2.0)
        worker = home.start_worker("w1", env={
            "MILLSTREAM__DATABASE__URL": via(home.database_url, "127.0.0.1", proxy.port)})
        home.start("scheduler")
        run_id = started(home, "celery_db_outage")
        wait_for(lambda: ledger_lines(ledger), 60, "step0 to start", home.tails)
        proxy.cut()  # the try runs on; its end cannot be recorded until the database is back
        wait_for(lambda: "could not record the outcome" in worker.output(), 60,
                 "the worker to find the database away", home.tails)
        proxy.restore()
        succeeded(home, "celery_db_outage", run_id)
    finally:
        proxy.close()
    assert sorted(ledger_lines(ledger)) == [(run_id, "step0", "1"), (run_id, "step1", "1")]
    instances = home.instances("celery_db_outage", run_id)
    assert {(ti.state, ti.try_number) for ti in instances.values()} == {(TaskState.SUCCESS, 1)}
