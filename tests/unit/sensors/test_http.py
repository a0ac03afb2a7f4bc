"""HttpSensor and HttpTrigger against a real HTTP server on 127.0.0.1 started by the test."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from datetime import datetime

import pytest

from millstream import DAG
from millstream.exceptions import DagDefinitionError
from millstream.sensors import HttpSensor
from millstream.triggerer.base import load_trigger, serialize_trigger
from millstream.triggerer.triggers.http import HttpTrigger

START = datetime(2026, 1, 1)


@pytest.fixture
def api(http_server, monkeypatch: pytest.MonkeyPatch):
    """The test server, reachable as the connection ``test_api``."""
    monkeypatch.setenv("MILLSTREAM_CONN_TEST_API", http_server.url)
    return http_server


def _run(**sensor_kwargs):
    with DAG("http_wait", schedule="@daily", start_date=START) as dag:
        HttpSensor(task_id="wait", http_conn_id="test_api", poke_interval=0.01, timeout=30,
                   **sensor_kwargs)
    return dag.test(logical_date="2026-01-05")


def test_waits_while_the_service_answers_503_until_it_answers_200(api) -> None:
    health = api.route("/health", (503, {"status": "starting"}), (503, {}), (200, {"ok": True}))

    result = _run(endpoint="health", response_error_codes_allowlist=["404", "503"])

    assert result.task_states == {"wait": "success"}, result.tasks
    assert len(health.requests) == 3
    assert result.tasks[0].tries == 1


def test_a_404_means_not_yet_by_default(api) -> None:
    report = api.route("/reports/2026-01-05", (404, {}), (200, {"rows": 10}))

    result = _run(endpoint="reports/{{ ds }}")

    assert result.task_states == {"wait": "success"}, result.tasks
    assert len(report.requests) == 2


def test_another_error_status_fails_at_once_naming_status_and_url(api) -> None:
    broken = api.route("/health", (500, {"error": "database down"}))

    result = _run(endpoint="health", retries=0)

    assert result.task_states == {"wait": "failed"}
    error = result.tasks[0].error
    assert "HTTP 500" in error and f"{api.url}/health" in error and "database down" in error
    assert len(broken.requests) == 1


def test_response_check_decides_and_sees_the_context_it_names(api) -> None:
    status = api.route("/export", (200, {"state": "running"}), (200, {"state": "done"}))
    seen = []

    def export_done(response, ds):
        seen.append(ds)
        return response.json()["state"] == "done"

    result = _run(endpoint="export", request_params={"day": "{{ ds }}"},
                  headers={"X-Run": "{{ run_id }}"}, response_check=export_done)

    assert result.task_states == {"wait": "success"}, result.tasks
    assert seen == ["2026-01-05", "2026-01-05"]
    assert [r["query"] for r in status.requests] == ["day=2026-01-05"] * 2
    assert status.requests[0]["headers"]["X-Run"] == result.run_id


def test_a_post_sends_its_params_as_the_body(api) -> None:
    jobs = api.route("/jobs", (200, {}))

    result = _run(endpoint="jobs", method="POST", request_params={"name": "load"})

    assert result.task_states == {"wait": "success"}, result.tasks
    assert jobs.requests[0]["method"] == "POST" and jobs.requests[0]["body"] == "name=load"


def test_a_refused_connection_fails_naming_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MILLSTREAM_CONN_TEST_API", f"http://127.0.0.1:{port}")

    result = _run(endpoint="health", retries=0)

    assert result.task_states == {"wait": "failed"}
    assert f"127.0.0.1:{port}/health" in result.tasks[0].error


def test_deferrable_waits_in_the_triggerer_until_the_service_is_up(api) -> None:
    health = api.route("/health", (503, {}), (503, {}), (200, {}))

    result = _run(endpoint="health", response_error_codes_allowlist=["503"], deferrable=True)

    assert result.task_states == {"wait": "success"}, result.tasks
    assert len(health.requests) == 3  # one poke in the worker, two from the trigger


def test_deferrable_with_response_check_defers_again_until_the_check_passes(
    api, between_pokes
) -> None:
    states = ["queued", "running", "running", "running", "done"]
    status = api.route("/export", *[(200, {"state": s}) for s in states])
    deferrals = between_pokes(lambda: None, after=100)  # only counts

    result = _run(endpoint="export", deferrable=True,
                  response_check=lambda response: response.json()["state"] == "done")

    assert result.task_states == {"wait": "success"}, result.tasks
    # worker poke (queued) -> defer; trigger sees 200 -> resume; poke (running) -> defer
    # again; trigger sees 200 -> resume; poke (done) -> success
    assert len(status.requests) == 5
    assert deferrals.seen == 2
    assert result.tasks[0].tries == 1


def test_a_response_check_that_is_not_callable_is_a_definition_error() -> None:
    with pytest.raises(DagDefinitionError, match=r"'wait'.*response_check"), \
            DAG("http_wait", schedule=None):
        HttpSensor(task_id="wait", endpoint="x", response_check="yes")


# -- HttpTrigger -----------------------------------------------------------------------------

def _fire(trigger: HttpTrigger):
    async def first():
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(asyncio.wait_for(first(), timeout=30))


def test_trigger_polls_past_allowed_errors_and_fires_on_success(api) -> None:
    health = api.route("/health", (503, {}), (404, {}), (200, {}))
    trigger = HttpTrigger("health", http_conn_id="test_api",
                          response_error_codes_allowlist=["404", "503"], poke_interval=0.01)

    payload = _fire(trigger)

    assert payload == {"status": "success", "status_code": 200, "url": f"{api.url}/health"}
    assert len(health.requests) == 3


def test_trigger_reports_an_error_status_outside_the_allowlist(api) -> None:
    api.route("/health", (401, {"error": "who are you"}))

    payload = _fire(HttpTrigger("health", http_conn_id="test_api", poke_interval=0.01))

    assert payload["status"] == "error"
    assert "HTTP 401" in payload["message"] and f"{api.url}/health" in payload["message"]


def test_trigger_credentials_come_from_the_connection_not_its_stored_form(
    http_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MILLSTREAM_CONN_SECURE_API",
                       f"http://etl:s3cr3t@127.0.0.1:{http_server.port}")
    secure = http_server.route("/data", (200, {}))
    trigger = HttpTrigger("data", http_conn_id="secure_api", headers={"X-Team": "data"})

    classpath, kwargs = serialize_trigger(trigger)
    assert "s3cr3t" not in json.dumps(kwargs)
    payload = _fire(load_trigger(classpath, json.loads(json.dumps(kwargs))))

    assert payload["status"] == "success"
    headers = secure.requests[0]["headers"]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"etl:s3cr3t").decode()
    assert headers["X-Team"] == "data"
