"""event_driven_etl (the guide's sensors pipeline) with its upstream DAG, a real landing
folder and a real HTTP endpoint on 127.0.0.1.

Through the real processes (``millstream scheduler`` with its local executor, and
``millstream triggerer``) on SQLite and PostgreSQL: the hourly run waits, holding no
worker slot, while the test writes the sales file, turns the endpoint from 503 to 200,
and only then lets the upstream DAG run for the same hour. With ``dag.test()``: the same
pipeline in one process, on the defaults a fresh machine has. And the failure path: a
failed upstream fails the sensor at once, naming the upstream DAG, task and run.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from millstream import DAG
from millstream.model.states import FINISHED_TASK_STATES, DagRunState, TaskState
from millstream.parsing import load_dag_file
from millstream.parsing.sync import DagFolderSync
from millstream.runtime.xcom import decode_xcom
from millstream.sensors import BaseSensorOperator
from millstream.store.memory import MemoryStore
from millstream.store.records import DagRunRecord, TaskInstanceRecord
from millstream.store.sql.migrate import migrate
from millstream.testing import run_dag_test
from tests.integration.engine.engine_helpers import Home, Proc, wait_for
from tests.integration.hooks.pg import postgres_schema_uri

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "dags"
ETL = "event_driven_etl"
UPSTREAM = "data_ingestion_pipeline"
SENSORS = ("wait_for_upstream_pipeline", "wait_for_data_file", "wait_for_api")
ALL_TASKS = {"start", *SENSORS, "process_data", "end"}
HOUR = "2026-01-05T10:00:00+00:00"
SALES_CSV = "id,amount\n1,10.50\n2,3.25\n3,7.00\n"


def load(dag_id: str) -> DAG:
    dags = load_dag_file(EXAMPLES / f"{dag_id}.py")
    assert list(dags) == [dag_id]
    return dags[dag_id]


# -- a health endpoint that is not ready yet --------------------------------------------------
class HealthEndpoint:
    """A real HTTP server on 127.0.0.1 answering every GET with ``status`` (503 at first).

    ``ready_after`` makes it answer 503 to that many requests, then 200. Every status
    served is kept in ``served``, every path asked for in ``paths``.
    """

    def __init__(self, ready_after: int | None = None) -> None:
        self.status = 503
        self.ready_after = ready_after
        self.served: list[int] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with endpoint._lock:
                    status = endpoint._answer()
                    endpoint.served.append(status)
                    endpoint.paths.append(self.path)
                body = json.dumps({"ready": status == 200}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _answer(self) -> int:
        if self.ready_after is not None:
            return 503 if len(self.served) < self.ready_after else 200
        return self.status

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def set_status(self, status: int) -> None:
        with self._lock:
            self.status = status

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def api() -> Iterator[HealthEndpoint]:
    endpoint = HealthEndpoint()
    try:
        yield endpoint
    finally:
        endpoint.close()


# -- the pipeline's structure -----------------------------------------------------------------
def test_it_keeps_the_article_structure_and_no_sensor_holds_a_slot() -> None:
    dag = load(ETL)
    assert set(dag.task_dict) == ALL_TASKS
    assert dag.get_task("start").downstream_task_ids == set(SENSORS)
    for sensor_id in SENSORS:
        assert dag.get_task(sensor_id).downstream_task_ids == {"process_data"}
    assert dag.get_task("process_data").downstream_task_ids == {"end"}
    assert (dag.schedule, dag.catchup, dag.tags) == ("0 * * * *", False, ["event-driven",
                                                                          "sensors"])
    assert load(UPSTREAM).schedule == dag.schedule  # same hours: execution_delta is zero

    upstream = dag.get_task("wait_for_upstream_pipeline")
    assert (upstream.external_dag_id, upstream.external_task_id) == (UPSTREAM, "complete")
    assert "complete" in load(UPSTREAM).task_dict
    sensors = [dag.get_task(t) for t in SENSORS]
    assert all(isinstance(s, BaseSensorOperator) for s in sensors)
    assert [s.mode == "reschedule" or s.deferrable for s in sensors] == [True] * 3
    assert [s.timeout.total_seconds() for s in sensors] == [7200, 3600, 600]
    # the article's intervals, when no demo setting shortens them
    assert [s.poke_interval.total_seconds() for s in sensors] == [300, 60, 30]
    api_sensor = dag.get_task("wait_for_api")
    assert type(api_sensor).__name__ == "ApiAvailabilitySensor"
    assert type(api_sensor).poke is not BaseSensorOperator.poke


def test_a_bad_poke_setting_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_DRIVEN_ETL_POKE_SECONDS", "soon")
    with pytest.raises(Exception, match="EVENT_DRIVEN_ETL_POKE_SECONDS='soon'"):
        load(ETL)


# -- dag.test() -------------------------------------------------------------------------------
def test_dag_test_runs_it_on_a_fresh_machine_after_the_upstream_hour(
    home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No variables: the landing zone is under MILLSTREAM_HOME and the API is this
    # installation's web server health endpoint, here served on the endpoint's port.
    endpoint = HealthEndpoint(ready_after=2)
    try:
        monkeypatch.setenv("MILLSTREAM__WEBSERVER__PORT", str(endpoint.port))
        landing = home / "data" / "landing"
        landing.mkdir(parents=True)
        (landing / "sales_2026-01-05.csv").write_text(SALES_CSV, encoding="utf-8")
        store = MemoryStore(open_pools=True)

        upstream = run_dag_test(load(UPSTREAM), logical_date=HOUR, store=store)
        result = run_dag_test(load(ETL), logical_date=HOUR, store=store, fast_retries=True)
    finally:
        endpoint.close()

    assert upstream.state == "success", upstream.tasks
    assert result.state == "success", result.tasks
    assert set(result.task_states) == ALL_TASKS
    assert set(result.task_states.values()) == {"success"}
    # the API sensor waited out two "503 Service Unavailable" before the 200
    assert endpoint.served == [503, 503, 200]
    assert set(endpoint.paths) == {"/api/v1/health"}
    assert result.xcom_pull("process_data") == {
        "status": "processed", "file": str(landing / "sales_2026-01-05.csv"), "rows": 3,
    }


def test_dag_test_fails_the_sensor_naming_the_failed_upstream(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: HealthEndpoint,
) -> None:
    api.set_status(200)
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "sales_2026-01-05.csv").write_text(SALES_CSV, encoding="utf-8")
    monkeypatch.setenv("MILLSTREAM_VAR_EVENT_DRIVEN_ETL_LANDING_DIR", str(landing))
    monkeypatch.setenv("MILLSTREAM_VAR_EVENT_DRIVEN_ETL_API_URL", api.url)
    store = MemoryStore(open_pools=True)

    upstream = run_dag_test(load(UPSTREAM), logical_date=HOUR, store=store,
                            conf={"simulate_failure": True})
    result = run_dag_test(load(ETL), logical_date=HOUR, store=store, fast_retries=True)

    assert upstream.task_states == {"start": "success", "ingest_source_data": "failed",
                                    "complete": "upstream_failed"}
    assert result.state == "failed"
    sensor = next(t for t in result.tasks if t.label == "wait_for_upstream_pipeline")
    assert (sensor.state, sensor.tries) == ("failed", 1)  # no retry: waiting cannot help
    assert "upstream failed" in sensor.error
    assert f"task 'complete' in run {upstream.run_id!r} of DAG {UPSTREAM!r}" in sensor.error
    assert "'upstream_failed'" in sensor.error
    assert result.task_states["wait_for_data_file"] == "success"
    assert result.task_states["wait_for_api"] == "success"
    assert result.task_states["process_data"] == "upstream_failed"
    assert result.task_states["end"] == "upstream_failed"


def test_dag_test_without_the_upstream_dag_fails_at_once_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: HealthEndpoint,
) -> None:
    api.set_status(200)
    monkeypatch.setenv("MILLSTREAM_VAR_EVENT_DRIVEN_ETL_LANDING_DIR", str(tmp_path))
    monkeypatch.setenv("MILLSTREAM_VAR_EVENT_DRIVEN_ETL_API_URL", api.url)
    (tmp_path / "sales_2026-01-05.csv").write_text(SALES_CSV, encoding="utf-8")

    result = load(ETL).test(logical_date=HOUR, fast_retries=True)

    sensor = next(t for t in result.tasks if t.label == "wait_for_upstream_pipeline")
    assert (result.state, sensor.state, sensor.tries) == ("failed", "failed", 1)
    assert f"the external DAG {UPSTREAM!r} does not exist" in sensor.error


# -- the real scheduler and triggerer ---------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated metadata database: SQLite in the home, or a PostgreSQL schema."""
    if request.param == "sqlite":
        (tmp_path / "engine-home").mkdir()
        url = f"sqlite:///{tmp_path / 'engine-home' / 'millstream.db'}"
        migrate(url)
        yield url
        return
    with postgres_schema_uri("event_etl") as (url, _schema):
        migrate(url)
        yield url


@pytest.fixture
def engine_home(tmp_path: Path, database_url: str) -> Iterator[Home]:
    """A millstream home over the test's database, its processes killed at the end."""
    path = tmp_path / "engine-home"
    (path / "dags").mkdir(parents=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    home = Home(path, database_url, scratch)
    try:
        yield home
    finally:
        home.close()


def deploy(home: Home, landing: Path, api: HealthEndpoint,
           monkeypatch: pytest.MonkeyPatch) -> tuple[Proc, Proc]:
    """Both DAG files in the dags folder, registered paused; the variables pointing at the
    test's landing folder and endpoint; a scheduler and a triggerer running."""
    for dag_id in (ETL, UPSTREAM):
        shutil.copy(EXAMPLES / f"{dag_id}.py", home.dags)
    settings = {
        "MILLSTREAM_VAR_EVENT_DRIVEN_ETL_LANDING_DIR": str(landing),
        "MILLSTREAM_VAR_EVENT_DRIVEN_ETL_API_URL": api.url,
        "EVENT_DRIVEN_ETL_POKE_SECONDS": "0.2",
    }
    home.settings_env.update(settings)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    # Registered paused, as a deployment that enables DAGs one at a time does: each gets
    # its runs only once the test unpauses it.
    DagFolderSync([home.dags], paused_on_create=True)(home.store(), datetime.now(UTC))
    return home.start("scheduler"), home.start("triggerer")


def scheduled_run(home: Home) -> DagRunRecord | None:
    return next((r for r in home.runs(ETL) if r.run_type == "scheduled"), None)


def states(home: Home, run: DagRunRecord) -> dict[str, TaskState]:
    return {label: ti.state for label, ti in home.instances(ETL, run.run_id).items()}


def rescheduled(home: Home, ti: TaskInstanceRecord) -> bool:
    return bool(home.store().task_reschedules.for_try(ti.key, ti.try_number or 1))


def test_the_processes_run_it_once_upstream_file_and_api_are_ready(
    engine_home: Home, api: HealthEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = engine_home
    landing = tmp_path / "landing"
    landing.mkdir()
    scheduler, triggerer = deploy(home, landing, api, monkeypatch)

    def detail() -> str:
        return "\n".join([home.describe(ETL), home.describe(UPSTREAM), scheduler.tail(),
                          triggerer.tail(), f"API served {api.served}"])

    home.cli("dags", "unpause", ETL)
    run = wait_for(lambda: scheduled_run(home), 60, "the hourly run of event_driven_etl",
                   detail)
    ds = run.logical_date.strftime("%Y-%m-%d")

    # All three wait, none in a worker slot: two gave theirs back, the file sensor defers.
    def all_waiting() -> bool:
        tis = home.instances(ETL, run.run_id)
        return (tis["wait_for_data_file"].state is TaskState.DEFERRED
                and rescheduled(home, tis["wait_for_upstream_pipeline"])
                and rescheduled(home, tis["wait_for_api"]) and 503 in api.served)

    wait_for(all_waiting, 60, "the three sensors to wait", detail)

    (landing / f"sales_{ds}.csv").write_text(SALES_CSV, encoding="utf-8")
    wait_for(lambda: states(home, run)["wait_for_data_file"] is TaskState.SUCCESS, 60,
             "the file sensor to see the file", detail)
    assert states(home, run)["wait_for_api"] is not TaskState.SUCCESS

    api.set_status(200)
    wait_for(lambda: states(home, run)["wait_for_api"] is TaskState.SUCCESS, 60,
             "the API sensor to see the 200", detail)
    now = states(home, run)
    assert now["wait_for_upstream_pipeline"] not in FINISHED_TASK_STATES
    assert now["process_data"] is TaskState.NONE  # still waiting for the upstream DAG

    # The upstream's run of the same hour, then the upstream DAG switched on.
    upstream_run = home.cli("dags", "trigger", UPSTREAM, "--logical-date",
                            run.logical_date.isoformat()).stdout.strip().splitlines()[-1]
    home.cli("dags", "unpause", UPSTREAM)

    finished = wait_for(lambda: home.finished_run(ETL, run.run_id), 90,
                        "the event_driven_etl run to finish", detail)
    assert finished.state is DagRunState.SUCCESS, detail()
    instances = home.instances(ETL, run.run_id)
    assert set(instances) == ALL_TASKS
    assert {(ti.state, ti.try_number) for ti in instances.values()} == {(TaskState.SUCCESS, 1)}
    upstream = home.finished_run(UPSTREAM, upstream_run)
    assert upstream is not None and upstream.state is DagRunState.SUCCESS
    assert upstream.logical_date == run.logical_date
    complete = home.instance(UPSTREAM, upstream_run, "complete")
    sensor = instances["wait_for_upstream_pipeline"]
    assert sensor.end_date >= complete.end_date
    value = home.store().xcoms.get_xcom(ETL, run.run_id, "process_data", -1, "return_value")
    assert decode_xcom(value) == {"status": "processed", "file": str(landing / f"sales_{ds}.csv"),
                                  "rows": 3}


def test_the_processes_fail_the_sensor_naming_the_failed_upstream(
    engine_home: Home, api: HealthEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = engine_home
    landing = tmp_path / "landing"
    landing.mkdir()
    api.set_status(200)
    scheduler, triggerer = deploy(home, landing, api, monkeypatch)

    def detail() -> str:
        return "\n".join([home.describe(ETL), home.describe(UPSTREAM), scheduler.tail(),
                          triggerer.tail()])

    home.cli("dags", "unpause", ETL)
    run = wait_for(lambda: scheduled_run(home), 60, "the hourly run of event_driven_etl",
                   detail)
    (landing / f"sales_{run.logical_date:%Y-%m-%d}.csv").write_text(SALES_CSV, encoding="utf-8")
    upstream_run = home.cli("dags", "trigger", UPSTREAM, "--logical-date",
                            run.logical_date.isoformat(), "--conf",
                            '{"simulate_failure": true}').stdout.strip().splitlines()[-1]
    home.cli("dags", "unpause", UPSTREAM)

    finished = wait_for(lambda: home.finished_run(ETL, run.run_id), 90,
                        "the event_driven_etl run to finish", detail)
    assert finished.state is DagRunState.FAILED, detail()
    sensor = home.instance(ETL, run.run_id, "wait_for_upstream_pipeline")
    assert (sensor.state, sensor.try_number) == (TaskState.FAILED, 1), detail()
    assert "upstream failed" in sensor.error
    assert f"task 'complete' in run {upstream_run!r} of DAG {UPSTREAM!r}" in sensor.error
    assert "'upstream_failed'" in sensor.error
    assert home.instance(UPSTREAM, upstream_run, "ingest_source_data").state is TaskState.FAILED
    tis = states(home, run)
    assert (tis["wait_for_data_file"], tis["wait_for_api"]) == (TaskState.SUCCESS,
                                                                TaskState.SUCCESS)
    assert (tis["process_data"], tis["end"]) == (TaskState.UPSTREAM_FAILED,
                                                 TaskState.UPSTREAM_FAILED)
