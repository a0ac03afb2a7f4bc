"""``millstream standalone`` as a user runs it: it says where things are, runs a DAG dropped
into its folder, and stops cleanly on SIGTERM, leaving no process behind."""

from __future__ import annotations

import re
import signal
from datetime import UTC, datetime, timedelta

from engine_helpers import Home, alive, descendants, in_session, wait_for

from millstream.model.states import DagRunState, TaskState

DROPPED_DAG = """
    from datetime import datetime, timezone

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    with DAG("dropped_in", schedule="@daily", catchup=False,
             start_date=datetime({start}, tzinfo=timezone.utc)) as dag:
        first = PythonOperator(task_id="first", python_callable=lambda: print("first ran"))
        second = PythonOperator(task_id="second", python_callable=lambda: print("second ran"))
        first >> second
"""


def test_standalone_runs_a_dropped_in_dag_and_stops_cleanly(blank_home: Home) -> None:
    home = blank_home
    home.settings_env.pop("MILLSTREAM__DATABASE__URL", None)  # standalone's own default
    home.set(scheduler__parse_interval_s=1)
    proc = home.start("standalone", "--no-examples")

    def printed(label: str) -> str | None:
        match = re.search(rf"^{label}\s+(\S.*?)\s*$", proc.output(), re.MULTILINE)
        return match.group(1) if match else None

    wait_for(lambda: "scheduler running" in proc.output(), 30, "standalone to start",
             proc.tail)
    assert printed("database") == f"sqlite:///{home.path / 'millstream.db'}"
    assert printed("logs") == str(home.logs)
    assert printed("DAGs") == str(home.dags)
    assert printed("examples") is None

    start = datetime.now(UTC) - timedelta(days=3)
    home.write_dag("dropped_in.py",
                   DROPPED_DAG.format(start=f"{start.year}, {start.month}, {start.day}"))
    run = wait_for(
        lambda: next((r for r in home.runs("dropped_in") if r.state is DagRunState.SUCCESS),
                     None),
        30, "the dropped-in DAG's scheduled run to succeed",
        lambda: home.describe("dropped_in") + "\n" + proc.tail(),
    )
    assert run.run_type == "scheduled"
    states = {label: ti.state for label, ti in home.instances("dropped_in", run.run_id).items()}
    assert states == {"first": TaskState.SUCCESS, "second": TaskState.SUCCESS}

    children = descendants(proc.pid)
    assert children, "standalone runs its fork server and parsing workers as children"
    proc.popen.send_signal(signal.SIGTERM)
    code = proc.popen.wait(timeout=30)
    assert code == 0, proc.tail()
    assert "received SIGTERM: stopping" in proc.output()
    assert "Traceback" not in proc.output(), proc.tail()
    wait_for(lambda: not any(alive(pid) for pid in children) and not in_session(proc.pid),
             10, "standalone's child processes to exit",
             lambda: f"left: {sorted(p for p in children if alive(p))}")

