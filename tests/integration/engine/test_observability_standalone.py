"""Prometheus' view of a running standalone: every family on the web server's /metrics,
and the scheduler's, worker's and triggerer's own endpoints, with the values of one run."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterator

import httpx
from engine_helpers import Home, wait_for
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from millstream.model.states import DagRunState

TOKEN = "scrape-secret-token"
OBSERVED_DAG = """
    from datetime import datetime, timedelta, timezone

    from millstream import DAG
    from millstream.metrics import counter, gauge, histogram
    from millstream.operators.python import PythonOperator

    def extract():
        counter("records_processed", 400, source="sales_db")
        gauge("data_freshness_minutes", 12.5, source="sales_db")
        histogram("extract_batch_seconds", 0.2)

    def flaky(ti):
        if ti.try_number == 1:
            raise RuntimeError("first try fails")

    def broken_callback(context):
        raise RuntimeError("the callback fails")

    with DAG("observed", schedule="@daily", catchup=False,
             start_date=datetime({start}, tzinfo=timezone.utc)) as dag:
        first = PythonOperator(task_id="extract", python_callable=extract,
                               on_success_callback=broken_callback)
        second = PythonOperator(task_id="flaky", python_callable=flaky, retries=1,
                                retry_delay=timedelta(seconds=0))
        first >> second
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(url: str, token: str | None = TOKEN) -> dict[str, list[Sample]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(url, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family.samples
            for family in text_string_to_metric_families(response.text)}


def values(samples: list[Sample], name: str, **labels: str) -> Iterator[float]:
    for sample in samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            yield sample.value


def one(samples: list[Sample], name: str, **labels: str) -> float:
    found = list(values(samples, name, **labels))
    assert len(found) == 1, (name, labels, samples)
    return found[0]


def test_every_family_is_scraped_with_the_values_of_a_run(blank_home: Home) -> None:
    home = blank_home
    ports = {name: free_port() for name in ("scheduler", "worker", "triggerer")}
    home.set(scheduler__parse_interval_s=1, scheduler__parallelism=4, metrics__token=TOKEN,
             **{f"metrics__{name}_port": port for name, port in ports.items()})
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) - timedelta(days=3)
    home.write_dag("observed.py",
                   OBSERVED_DAG.format(start=f"{start.year}, {start.month}, {start.day}"))
    home.write_dag("broken.py", "from millstream import DAG\nimport no_such_module_here\n")
    proc = home.start("standalone", "--no-examples")
    wait_for(lambda: "scheduler running" in proc.output(), 30, "standalone to start",
             proc.tail)
    match = re.search(r"web server on (http://\S+)", proc.output())
    assert match, proc.tail()
    web = match.group(1)
    run = wait_for(
        lambda: next((r for r in home.runs("observed") if r.state is DagRunState.SUCCESS),
                     None),
        60, "the observed DAG's run to succeed",
        lambda: home.describe("observed") + "\n" + proc.tail())

    # Prometheus' bearer token, or a logged-in admin; nobody else.
    assert httpx.get(f"{web}/metrics", timeout=10).status_code == 401
    assert httpx.get(f"{web}/metrics", timeout=10,
                     headers={"Authorization": "Bearer wrong"}).status_code == 401
    families = scrape(f"{web}/metrics")
    dag = {"dag": "observed"}

    tries = families["millstream_task_tries_finished"]
    assert one(tries, "millstream_task_tries_finished_total", task="extract",
               state="success", **dag) == 1
    assert one(tries, "millstream_task_tries_finished_total", task="flaky",
               state="up_for_retry", **dag) == 1
    assert one(tries, "millstream_task_tries_finished_total", task="flaky",
               state="success", **dag) == 1
    durations = families["millstream_task_duration_seconds"]
    assert one(durations, "millstream_task_duration_seconds_count", task="flaky", **dag) == 2
    assert 0 < one(durations, "millstream_task_duration_seconds_sum", task="flaky",
                   **dag) < 60
    latency = families["millstream_task_queue_latency_seconds"]
    for stage in ("scheduled_to_queued", "queued_to_running"):
        # every try of the run once: extract's, and flaky's two
        assert one(latency, "millstream_task_queue_latency_seconds_count", stage=stage) == 3
        assert 0 <= one(latency, "millstream_task_queue_latency_seconds_sum",
                        stage=stage) < 60
    handoff = families["millstream_task_handoff_latency_seconds"]
    assert one(handoff, "millstream_task_handoff_latency_seconds_count", **dag) >= 1
    assert 0 <= one(handoff, "millstream_task_handoff_latency_seconds_sum", **dag) < 60
    run_seconds = (run.end_date - run.start_date).total_seconds()
    runs = families["millstream_dag_run_duration_seconds"]
    assert one(runs, "millstream_dag_run_duration_seconds_count", state="success", **dag) == 1
    assert abs(one(runs, "millstream_dag_run_duration_seconds_sum", state="success", **dag)
               - run_seconds) < 0.01
    assert one(families["millstream_dag_runs_created"], "millstream_dag_runs_created_total",
               run_type="scheduled", **dag) == 1
    assert one(families["millstream_scheduler_ticks"], "millstream_scheduler_ticks_total") > 1
    ticks = families["millstream_scheduler_tick_duration_seconds"]
    assert one(ticks, "millstream_scheduler_tick_duration_seconds_count") > 1
    slots = families["millstream_executor_slots"]
    used = one(slots, "millstream_executor_slots", state="used")
    assert used + one(slots, "millstream_executor_slots", state="free") == 4
    assert one(slots, "millstream_executor_slots", state="prefetched") == 0  # all ran
    pools = families["millstream_pool_slots"]
    size = sum(values(pools, "millstream_pool_slots", pool="default_pool"))
    assert size == 128
    assert one(families["millstream_triggers_running"], "millstream_triggers_running") == 0
    assert one(families["millstream_dag_import_errors"], "millstream_dag_import_errors") == 1
    parses = families["millstream_dag_file_parse_duration_seconds"]
    parsed = {s.labels["file"]: s.value for s in parses}
    assert 0 < parsed[str(home.dags / "observed.py")] < 30
    assert one(families["millstream_dag_file_parses"], "millstream_dag_file_parses_total",
               outcome="error") >= 1
    assert one(families["millstream_zombies_found"], "millstream_zombies_found_total") == 0
    assert one(families["millstream_callbacks_failed"], "millstream_callbacks_failed_total",
               kind="on_success_callback", **dag) == 1
    ages = families["millstream_heartbeat_age_seconds"]
    assert 0 <= one(ages, "millstream_heartbeat_age_seconds", component="scheduler") < 30
    assert 0 <= one(ages, "millstream_heartbeat_age_seconds", component="triggerer") < 30
    # What the task code reported, with the try's labels.
    assert one(families["millstream_records_processed"], "millstream_records_processed_total",
               task="extract", run_type="scheduled", source="sales_db", **dag) == 400
    assert one(families["millstream_data_freshness_minutes"],
               "millstream_data_freshness_minutes", task="extract", **dag) == 12.5
    assert one(families["millstream_extract_batch_seconds"],
               "millstream_extract_batch_seconds_count", task="extract", **dag) == 1
    # Every sample says which component recorded it, on which host; no run id anywhere.
    for samples in families.values():
        for sample in samples:
            assert "component" in sample.labels, sample
            assert run.run_id not in sample.labels.values(), sample

    # The components' own endpoints hold their own families only.
    scheduler = scrape(f"http://127.0.0.1:{ports['scheduler']}/metrics", token=None)
    assert one(scheduler["millstream_task_tries_finished"],
               "millstream_task_tries_finished_total", task="extract", state="success",
               component="scheduler", **dag) == 1
    assert "millstream_executor_slots" not in scheduler
    worker = scrape(f"http://127.0.0.1:{ports['worker']}/metrics", token=None)
    assert one(worker["millstream_records_processed"], "millstream_records_processed_total",
               component="worker", **dag) == 400
    assert sum(values(worker["millstream_executor_slots"], "millstream_executor_slots")) == 4
    assert "millstream_task_tries_finished" not in worker
    triggerer = scrape(f"http://127.0.0.1:{ports['triggerer']}/metrics", token=None)
    assert one(triggerer["millstream_triggers_running"], "millstream_triggers_running",
               component="triggerer") == 0


TEXT_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR) ")


def test_json_logs_and_statsd_from_the_services_and_the_tries(blank_home: Home) -> None:
    """The tries' processes come from a fork server started afresh: they log JSON and send
    to StatsD as the scheduler does, though they inherit none of its state."""
    import json
    from datetime import UTC, datetime, timedelta

    statsd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    statsd.bind(("127.0.0.1", 0))
    statsd.settimeout(0.5)
    home = blank_home
    home.set(scheduler__parse_interval_s=1, logging__format="json",
             metrics__scheduler_port=free_port(), metrics__statsd_host="127.0.0.1",
             metrics__statsd_port=statsd.getsockname()[1])
    start = datetime.now(UTC) - timedelta(days=3)
    home.write_dag("observed.py",
                   OBSERVED_DAG.format(start=f"{start.year}, {start.month}, {start.day}"))
    proc = home.start("standalone", "--no-examples")
    wait_for(lambda: "scheduler running" in proc.output(), 30, "standalone to start",
             proc.tail)
    run = wait_for(
        lambda: next((r for r in home.runs("observed") if r.state is DagRunState.SUCCESS),
                     None),
        60, "the observed DAG's run to succeed", proc.tail)

    lines = proc.output().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(r["logger"] == "millstream.observability" and
               r["message"].startswith("metrics on http://") for r in records), proc.tail()
    for record in records:
        assert {"timestamp", "level", "logger", "message"} <= set(record), record
    assert not [line for line in lines if TEXT_LOG_LINE.match(line)], proc.tail()
    from millstream.runtime.worker import try_log_path
    from millstream.store.records import TaskInstanceKey

    log_path = try_log_path(home.logs, TaskInstanceKey("observed", run.run_id, "flaky"), 1)
    tried = [json.loads(line) for line in log_path.read_text().splitlines()
             if line.startswith("{")]
    assert tried and all(
        (r["dag_id"], r["run_id"], r["task_id"], r["try_number"], r["map_index"])
        == ("observed", run.run_id, "flaky", 1, -1) for r in tried)
    assert any("first try fails" in r["message"] for r in tried)
    lines: list[str] = []
    with contextlib.suppress(TimeoutError):
        while True:
            lines.extend(statsd.recv(65535).decode().splitlines())
    statsd.close()
    # sent by the try's own process, and by the scheduler as it applied the outcomes
    assert "millstream.records_processed.observed.extract.scheduled.sales_db:400|c" in lines
    assert "millstream.task_tries_finished.observed.flaky.up_for_retry:1|c" in lines
