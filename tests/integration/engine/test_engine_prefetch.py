"""Prefetched tries through a real scheduler: parallelism still bounds what runs, and a
stopping scheduler gives back the tries it had taken and not started."""

from __future__ import annotations

from engine_helpers import Home, run_job

from millstream.cli.engine import scheduler_job
from millstream.model.states import DagRunState, TaskState

SLOW_DAG = """
    import time
    from datetime import datetime

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    def slow():
        time.sleep(1.5)

    with DAG("slow_fan", start_date=datetime(2026, 1, 1), schedule=None) as dag:
        for index in range(4):
            PythonOperator(task_id=f"t{index}", python_callable=slow)
"""

FAST_DAG = """
    from datetime import datetime

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    def nothing():
        return None

    with DAG("fast_fan", start_date=datetime(2026, 1, 1), schedule=None) as dag:
        for index in range(40):
            PythonOperator(task_id=f"t{index:02d}", python_callable=nothing)
"""


def _states(home: Home, dag_id: str, run_id: str) -> dict[str, TaskState]:
    return {label: ti.state for label, ti in home.instances(dag_id, run_id).items()}


def test_a_fan_runs_to_the_end_with_prefetch_and_parallelism_bounding_it(
        sqlite_home: Home) -> None:
    sqlite_home.set(scheduler__parallelism="2", executor__prefetch_multiplier="2")
    sqlite_home.write_dag("fast_fan.py", FAST_DAG)
    with scheduler_job(sqlite_home.settings()) as job:
        run_job(job, lambda: sqlite_home.parsed("fast_fan"), 30, "the DAG to be parsed")
        run_id = sqlite_home.trigger("fast_fan")
        run_job(job, lambda: sqlite_home.finished_run("fast_fan", run_id), 60,
                "the run to end", lambda: sqlite_home.describe("fast_fan"))
    finished = sqlite_home.run("fast_fan", run_id)
    assert finished is not None and finished.state is DagRunState.SUCCESS
    instances = sqlite_home.instances("fast_fan", run_id).values()
    assert all(ti.state is TaskState.SUCCESS and ti.try_number == 1 for ti in instances)
    spans = sorted([(ti.start_date, 1) for ti in instances]
                   + [(ti.end_date, -1) for ti in instances], key=lambda m: (m[0], m[1]))
    running = peak = 0
    for _, change in spans:
        running += change
        peak = max(peak, running)
    assert peak <= 2


def test_a_stopping_scheduler_gives_back_the_tries_it_prefetched(sqlite_home: Home) -> None:
    sqlite_home.set(scheduler__parallelism="1", executor__prefetch_multiplier="2")
    sqlite_home.write_dag("slow_fan.py", SLOW_DAG)
    with scheduler_job(sqlite_home.settings()) as job:
        run_job(job, lambda: sqlite_home.parsed("slow_fan"), 30, "the DAG to be parsed")
        run_id = sqlite_home.trigger("slow_fan")

        def one_running_two_prefetched() -> bool:
            states = list(_states(sqlite_home, "slow_fan", run_id).values())
            return (states.count(TaskState.RUNNING) == 1
                    and states.count(TaskState.QUEUED) == 2)

        run_job(job, one_running_two_prefetched, 30, "a try running and two prefetched",
                lambda: sqlite_home.describe("slow_fan"))
    # The scheduler stopped: the running try was waited for, the prefetched ones were
    # put back as they were before they were queued, to be handed out again at once.
    states = _states(sqlite_home, "slow_fan", run_id)
    assert sorted(states.values()) == sorted(
        [TaskState.SUCCESS, TaskState.SCHEDULED, TaskState.SCHEDULED, TaskState.SCHEDULED])
    for label, ti in sqlite_home.instances("slow_fan", run_id).items():
        assert ti.try_number == (1 if states[label] is TaskState.SUCCESS else 0), label
