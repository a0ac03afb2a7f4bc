"""Two schedulers lose PostgreSQL for 10 s mid-run and carry on: no try lost, none twice.

The schedulers reach the database through a TCP proxy the test starts (the shared server
is never stopped). ``closed``: every connection is closed and new ones refused, as when
the server restarts. ``stranded``: connections stay open but every byte is swallowed, as
on a path that drops packets; calls then wait for an answer that never comes, until the
watchdog cuts them. Either way each scheduler logs the outage while it lasts, and once the
proxy opens again the runs finish with every task tried exactly once.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from engine_helpers import Home, Proc, wait_for
from sqlalchemy.engine import make_url
from tests.faultproxy import Mode, fault_proxy

from millstream.model.states import DagRunState

OUTAGE_S = 10.0
RUNS, TASKS = 2, 6

DAG_SOURCE = """
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
        time.sleep(2)

    start = datetime.fromisoformat({start!r})  # fixed: both schedulers parse the same
    with DAG("outage", schedule=timedelta(hours=1), start_date=start, catchup=True,
             max_active_runs={runs}) as dag:
        done = EmptyOperator(task_id="done")
        [PythonOperator(task_id=f"work{{i:02d}}", python_callable=work)
         for i in range({tasks})] >> done
"""

OUTAGE_LOG = re.compile(
    r"scheduler: (lost the database|the database has not answered for)"
)
"""How the watchdog reports an outage: a failed call, or a call left without an answer
(a stranded connection's; a new connection through the stranded proxy fails instead)."""


@pytest.mark.parametrize("mode", ["closed", "stranded"])
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_schedulers_wait_out_a_database_outage(home: Home, mode: Mode) -> None:
    ledger = home.scratch / "ledger.txt"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=RUNS)
    home.write_dag("outage.py", DAG_SOURCE.format(ledger=str(ledger), runs=RUNS, tasks=TASKS,
                                                  start=start.isoformat()))
    url = make_url(home.database_url)
    with fault_proxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port)
        home.set(database__url=proxied.render_as_string(hide_password=False),
                 database__connect_timeout_s=2, database__statement_timeout_s=3,
                 database__stall_warning_s=1, scheduler__parallelism=2)
        schedulers = [home.start("scheduler"), home.start("scheduler")]

        def detail() -> str:
            return "\n".join([home.describe("outage"), *(s.tail() for s in schedulers)])

        def lines() -> list[tuple[str, ...]]:
            text = ledger.read_text() if ledger.exists() else ""
            return [tuple(line.split()) for line in text.splitlines() if line.strip()]

        for scheduler in schedulers:  # both past their start-up, which needs the database
            wait_for(lambda s=scheduler: "scheduler running" in s.output(), 90,
                     "both schedulers to run", detail)
        wait_for(lambda: len(lines()) >= 2, 90, "tries to start", detail)
        started_before = len(lines())
        proxy.set_mode(mode)
        outage_began = time.monotonic()
        for scheduler in schedulers:  # noticed while the outage lasts, by each of them
            wait_for(lambda s=scheduler: OUTAGE_LOG.search(s.output()), OUTAGE_S,
                     f"{scheduler.argv[-1]} to log the outage", detail)
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage_began)))
        proxy.set_mode("open")

        def all_done() -> bool:
            runs = home.runs("outage")
            return len(runs) == RUNS and all(r.state is DagRunState.SUCCESS for r in runs)

        wait_for(all_done, 180, f"the runs to succeed after a {mode} outage", detail)
        assert all(s.popen.poll() is None for s in schedulers), "a scheduler died"
        assert all(_resumed(s) for s in schedulers), detail()
    tries = lines()
    counts = Counter((run_id, task_id) for run_id, task_id, _ in tries)
    assert len(counts) == RUNS * TASKS, tries
    assert set(counts.values()) == {1}, [key for key, n in counts.items() if n > 1]
    assert {number for _, _, number in tries} == {"1"}
    assert started_before < RUNS * TASKS  # the outage came mid-run


def _resumed(scheduler: Proc) -> bool:
    return "scheduler: the database answers again" in scheduler.output()


@pytest.mark.parametrize("mode", ["closed", "stranded"])
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_triggerer_waits_out_a_database_outage(home: Home, mode: Mode) -> None:
    url = make_url(home.database_url)
    with fault_proxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port)
        home.set(database__url=proxied.render_as_string(hide_password=False),
                 database__connect_timeout_s=2, database__statement_timeout_s=3,
                 database__stall_warning_s=1)
        triggerer = home.start("triggerer")
        wait_for(lambda: "triggerer running" in triggerer.output(), 60,
                 "the triggerer to start", triggerer.tail)
        proxy.set_mode(mode)
        wait_for(lambda: re.search(r"triggerer: (lost the database|the database has not "
                                   r"answered for)", triggerer.output()), OUTAGE_S,
                 "the triggerer to log the outage", triggerer.tail)
        proxy.set_mode("open")
        wait_for(lambda: "triggerer: the database answers again" in triggerer.output(), 60,
                 "the triggerer to see the database again", triggerer.tail)
        assert triggerer.popen.poll() is None, triggerer.tail()
