"""HttpHook against a real HTTP server on 127.0.0.1: requests, status errors and retries."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from millstream.hooks import get_hook
from millstream.hooks.http import HttpError, HttpHook
from millstream.secrets import Connection
from tests.integration.hooks.servers import RecordingHttpServer, closed_port

FAST = {"wait": 0.01, "backoff": 1.0}


@pytest.fixture
def api(http_server: RecordingHttpServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """Connection ``api``: the server, basic auth, and one header in its extra."""
    monkeypatch.setenv("MILLSTREAM_CONN_API", json.dumps({
        "conn_type": "http", "host": "127.0.0.1", "port": http_server.port,
        "login": "etl", "password": "s3cret:pw", "extra": {"X-Team": "data"},
    }))
    return "api"


def test_get_sends_data_as_the_query_with_auth_and_headers(
        api: str, http_server: RecordingHttpServer) -> None:
    response = HttpHook("GET", http_conn_id=api).run(
        "v1/orders", data={"since": "2026-01-01"}, headers={"X-Call": "one"})
    assert response.status_code == 200 and response.json() == {"ok": True}
    (seen,) = http_server.requests
    assert (seen.method, seen.path, seen.query) == ("GET", "/v1/orders",
                                                     {"since": ["2026-01-01"]})
    assert seen.headers["x-team"] == "data" and seen.headers["x-call"] == "one"
    assert seen.headers["authorization"] == "Basic " + base64.b64encode(b"etl:s3cret:pw").decode()


def test_post_sends_a_form_a_raw_body_or_json(api: str, http_server: RecordingHttpServer) -> None:
    hook = HttpHook("POST", http_conn_id=api)
    hook.run("/form", data={"a": "1", "b": "x y"})
    hook.run("/raw", data="plain text body")
    hook.run("/json", json={"rows": [1, 2]})
    form, raw, as_json = http_server.requests
    assert form.body == b"a=1&b=x+y"
    assert form.headers["content-type"] == "application/x-www-form-urlencoded"
    assert raw.body == b"plain text body"
    assert as_json.json() == {"rows": [1, 2]}


def test_a_4xx_or_5xx_answer_raises_with_status_url_and_body(
        api: str, http_server: RecordingHttpServer) -> None:
    http_server.respond("/broken", (500, '{"error": "database down"}'))
    with pytest.raises(HttpError) as caught:
        HttpHook("GET", api).run("broken")
    assert caught.value.status_code == 500
    assert "HTTP 500 Internal Server Error from GET" in str(caught.value)
    assert f"{http_server.url}/broken" in str(caught.value)
    assert "database down" in str(caught.value)
    # asked not to check, the answer comes back as it is
    response = HttpHook("GET", api).run("broken", extra_options={"check_response": False})
    assert response.status_code == 500


def test_retry_on_a_retryable_status_until_it_succeeds(
        api: str, http_server: RecordingHttpServer) -> None:
    http_server.respond("/flaky", (503, "busy"), (502, "bad gateway"), (200, '{"done": 1}'))
    response = HttpHook("GET", api).run_with_advanced_retry(
        {"attempts": 5, **FAST}, "flaky")
    assert response.json() == {"done": 1}
    assert len(http_server.requests_to("/flaky")) == 3


def test_no_retry_on_a_client_error(api: str, http_server: RecordingHttpServer) -> None:
    http_server.respond("/missing", (404, "no such thing"))
    with pytest.raises(HttpError, match="HTTP 404"):
        HttpHook("GET", api).run_with_advanced_retry({"attempts": 5, **FAST}, "missing")
    assert len(http_server.requests_to("/missing")) == 1


def test_the_last_error_is_raised_when_attempts_run_out(
        api: str, http_server: RecordingHttpServer) -> None:
    http_server.respond("/down", (503, "still busy"))
    with pytest.raises(HttpError, match="HTTP 503"):
        HttpHook("GET", api).run_with_advanced_retry({"stop_after_attempt": 3, **FAST}, "down")
    assert len(http_server.requests_to("/down")) == 3


def test_connection_errors_are_retried_then_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    monkeypatch.setenv("MILLSTREAM_CONN_DEAD", f"http://127.0.0.1:{port}")
    hook = HttpHook("GET", http_conn_id="dead")
    with pytest.raises(httpx.ConnectError) as caught:
        hook.run_with_advanced_retry({"attempts": 2, **FAST}, "ping")
    assert any(f"127.0.0.1:{port}/ping" in note for note in caught.value.__notes__)


def test_bad_retry_arguments_and_options_are_named() -> None:
    hook = HttpHook("GET", http_conn_id=None)
    with pytest.raises(ValueError, match=r"unknown _retry_args \['stop'\]"):
        hook.run_with_advanced_retry({"stop": 3}, "http://127.0.0.1:1/")
    with pytest.raises(ValueError, match=r"unknown extra_options \['retries'\]"):
        hook.run("http://127.0.0.1:1/", extra_options={"retries": 3})


def test_without_a_connection_the_endpoint_is_the_url(http_server: RecordingHttpServer) -> None:
    response = HttpHook("PUT", http_conn_id=None).run(f"{http_server.url}/direct", data=b"x")
    assert response.status_code == 200
    assert http_server.requests[0].method == "PUT"


def test_the_base_url_keeps_the_hosts_protocol_and_joins_with_one_slash(
        http_server: RecordingHttpServer) -> None:
    hook = get_hook(Connection("svc", conn_type="http", host=f"{http_server.url}/api/"))
    assert isinstance(hook, HttpHook)
    hook.method = "GET"
    hook.run("/v2/items")
    hook.run("v2/other")
    assert [r.path for r in http_server.requests] == ["/api/v2/items", "/api/v2/other"]


def test_options_from_the_connection_extra(http_server: RecordingHttpServer,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    http_server.respond("/teapot", (418, "short and stout"))
    monkeypatch.setenv(
        "MILLSTREAM_CONN_LENIENT",
        f"http://127.0.0.1:{http_server.port}/?check_response=false&timeout=5&X-Key=abc",
    )
    response = HttpHook("GET", http_conn_id="lenient").run("teapot")
    assert response.status_code == 418  # check_response=false from the URI's query
    assert http_server.requests[0].headers["x-key"] == "abc"
