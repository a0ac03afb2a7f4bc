"""Two schedulers at once on PostgreSQL: every task try runs exactly once.

Both parse the same folder, create the same scheduled runs, evaluate the same tasks and
race to dispatch them; row locks (SKIP LOCKED) and compare-and-set claims decide, and a
scheduler that loses a race rolls back and looks again.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from engine_helpers import Home, wait_for

from millstream.model.states import DagRunState

FAN_DAG = """
    import time
    from datetime import datetime, timedelta

    from millstream import DAG
    from millstream.operators.empty import EmptyOperator
    from millstream.operators.python import PythonOperator

    LEDGER = {ledger!r}

    def work(**context):
        ti = context["ti"]
        with open(LEDGER, "a") as ledger:
            ledger.write(f"{{ti.run_id}} {{ti.task_id}} {{ti.try_number}}\\n")
        time.sleep(0.2)

    # Fixed when the test writes the file: computed at import, each scheduler's parse
    # (a second apart) would give the DAG another start date and other intervals.
    start = datetime.fromisoformat({start!r})
    with DAG("shared_fan", schedule=timedelta(hours=1), start_date=start, catchup=True,
             max_active_runs=3) as dag:
        done = EmptyOperator(task_id="done")
        [PythonOperator(task_id=f"work{{i:02d}}", python_callable=work)
         for i in range(12)] >> done
"""


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_schedulers_run_every_try_exactly_once(home: Home) -> None:
    ledger = home.scratch / "ledger.txt"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    home.write_dag("shared_fan.py", FAN_DAG.format(ledger=str(ledger),
                                                   start=start.isoformat()))
    home.set(scheduler__parallelism=4)
    first, second = home.start("scheduler"), home.start("scheduler")

    def all_done() -> bool:
        runs = home.runs("shared_fan")
        return len(runs) == 3 and all(r.state is DagRunState.SUCCESS for r in runs)

    wait_for(all_done, 90, "three runs of shared_fan to succeed with two schedulers",
             lambda: f"{home.describe('shared_fan')}\n{first.tail()}\n{second.tail()}")
    assert first.popen.poll() is None and second.popen.poll() is None, "a scheduler died"
    lines = [tuple(line.split()) for line in ledger.read_text().splitlines() if line.strip()]
    counts = Counter((run_id, task_id) for run_id, task_id, _ in lines)
    assert len(counts) == 3 * 12
    assert set(counts.values()) == {1}, [key for key, n in counts.items() if n > 1]
    assert {try_number for _, _, try_number in lines} == {"1"}
    runs = home.runs("shared_fan")
    assert len({r.logical_date for r in runs}) == 3  # each interval created once
