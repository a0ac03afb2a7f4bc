"""What a real scheduler counts of things that went wrong: a DAG's own callbacks (and a
notifier) that raised in the process forked for them, and a try that would not stop at
its execution_timeout and was killed; scraped from its Prometheus endpoints and received
over StatsD."""

from __future__ import annotations

import contextlib
import socket

from engine_helpers import Home, wait_for
from test_observability_standalone import free_port, one, scrape

from millstream.model.states import DagRunState, TaskState
from millstream.runtime.worker import try_log_path
from millstream.store.records import TaskInstanceKey

FAILING_DAG = """
    import time
    from datetime import datetime, timedelta

    from millstream import DAG
    from millstream.metrics import counter
    from millstream.notify.base import BaseNotifier
    from millstream.operators.python import PythonOperator

    def stuck():
        counter("stuck_rows", 5)
        while True:  # swallows the TaskTimeout the execution_timeout raises: killed
            try:
                time.sleep(60)
            except BaseException:
                pass

    def broken(context):
        raise RuntimeError("the DAG's failure callback fails")

    class BrokenNotifier(BaseNotifier):
        def notify(self, context):
            raise RuntimeError("the notifier fails")

    with DAG("failing_obs", schedule=None, start_date=datetime(2026, 1, 1),
             on_failure_callback=[broken, BrokenNotifier()]) as dag:
        PythonOperator(task_id="stuck", python_callable=stuck,
                       execution_timeout=timedelta(seconds=1))
"""


def test_failed_dag_callbacks_and_a_killed_try_are_counted(sqlite_home: Home) -> None:
    home = sqlite_home
    statsd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    statsd.bind(("127.0.0.1", 0))
    statsd.settimeout(0.5)
    ports = {name: free_port() for name in ("scheduler", "worker")}
    home.set(scheduler__parse_interval_s=1, metrics__statsd_host="127.0.0.1",
             metrics__statsd_port=statsd.getsockname()[1],
             **{f"metrics__{name}_port": port for name, port in ports.items()})
    home.write_dag("failing_obs.py", FAILING_DAG)
    proc = home.start("scheduler")
    wait_for(lambda: home.parsed("failing_obs"), 30, "the scheduler to parse the DAG",
             proc.tail)
    run_id = home.trigger("failing_obs")
    run = wait_for(lambda: home.finished_run("failing_obs", run_id), 60,
                   "the run to end", lambda: home.describe("failing_obs") + proc.tail())
    assert run.state is DagRunState.FAILED
    ti = home.instance("failing_obs", run_id, "stuck")
    assert ti.state is TaskState.FAILED and "execution_timeout" in (ti.error or ""), ti.error
    dag = {"dag": "failing_obs"}
    scheduler_url = f"http://127.0.0.1:{ports['scheduler']}/metrics"

    # The DAG's callbacks ran in a process of their own; their failures reach the
    # scheduler's families once that process has ended.
    def callbacks_failed() -> float | None:
        samples = scrape(scheduler_url, token=None).get("millstream_callbacks_failed", [])
        found = [s.value for s in samples if s.labels.get("kind") == "on_failure_callback"]
        return found[0] if found and found[0] >= 2 else None

    assert wait_for(callbacks_failed, 30, "the failed callbacks to be counted",
                    proc.tail) == 2
    families = scrape(scheduler_url, token=None)
    # The killed try counts as the failed try it was recorded as, with its duration.
    assert one(families["millstream_task_tries_finished"],
               "millstream_task_tries_finished_total", task="stuck", state="failed",
               **dag) == 1
    durations = families["millstream_task_duration_seconds"]
    assert one(durations, "millstream_task_duration_seconds_count", task="stuck", **dag) == 1
    assert 2.5 < one(durations, "millstream_task_duration_seconds_sum", task="stuck",
                     **dag) < 30  # 1 s timeout + 2 s grace before the kill
    # What its code counted before it was killed was sent as it counted it.
    worker = scrape(f"http://127.0.0.1:{ports['worker']}/metrics", token=None)
    assert one(worker["millstream_stuck_rows"], "millstream_stuck_rows_total",
               task="stuck", **dag) == 5
    # The lines the fork server added to the killed try's log name the try too.
    log_text = try_log_path(home.logs, TaskInstanceKey("failing_obs", run_id, "stuck"),
                            1).read_text()
    identity = f"{{dag=failing_obs run={run_id} task=stuck try=1}} "
    assert f"{identity}ERROR millstream.executor: the task ran past its execution_timeout" \
        in log_text, log_text
    assert f"{identity}INFO millstream.executor: Try 1 ended: failed" in log_text, log_text

    lines: list[str] = []
    with contextlib.suppress(TimeoutError):
        while True:
            lines.extend(statsd.recv(65535).decode().splitlines())
    statsd.close()
    failed = [line for line in lines
              if line.startswith("millstream.callbacks_failed.failing_obs.on_failure_callback:")]
    assert sum(int(line.split(":")[1].split("|")[0]) for line in failed) == 2, lines
    assert "millstream.task_tries_finished.failing_obs.stuck.failed:1|c" in lines, lines
