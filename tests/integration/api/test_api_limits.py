"""The API refuses what is too big, too deep or out of range with a 4xx that stores nothing,
and the pages keep working for everyone afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from millstream.config import load_settings
from millstream.ui.server import create_app
from tests.integration.api.api_helpers import ApiEnv


def deep(levels: int) -> dict[str, object]:
    value: dict[str, object] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def run_ids(api: ApiEnv) -> list[str]:
    return sorted(run.run_id for run in api.store().runs.list("api_etl"))


def test_a_deeply_nested_conf_is_refused_and_the_run_list_still_works(api: ApiEnv) -> None:
    before = run_ids(api)
    response = api.post("op", "/dags/api_etl/dagRuns", json={"conf": deep(900)})
    assert response.status_code == 422
    assert response.json()["detail"] == "body.conf: nests deeper than 64 levels"
    assert run_ids(api) == before
    assert api.get("viewer", "/dags/api_etl/dagRuns").status_code == 200
    assert api.post("op", "/dags/api_etl/dagRuns", json={"conf": deep(64)}).status_code == 200


def test_a_body_nested_past_what_the_json_parser_can_take_is_a_4xx(api: ApiEnv) -> None:
    body = '{"conf": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001
    response = api.post("op", "/dags/api_etl/dagRuns", content=body,
                        headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text


@pytest.fixture
def small(api: ApiEnv, tmp_path: Path) -> Iterator[ApiEnv]:
    """The same database served with [limits] max_request_bytes = 4096."""
    settings = load_settings(home=Path(api.settings.core.home), environ={
        "MILLSTREAM__CORE__FERNET_KEY": api.settings.core.fernet_key.get_secret_value()
        if api.settings.core.fernet_key else "",
        "MILLSTREAM__LIMITS__MAX_REQUEST_BYTES": "4096"})
    with TestClient(create_app(settings)) as client:
        yield ApiEnv(settings, client, api.tokens)


def test_a_body_over_the_request_limit_is_refused_before_it_is_read(small: ApiEnv) -> None:
    before = run_ids(small)
    conf = {"blob": "x" * 5000}
    declared = small.post("op", "/dags/api_etl/dagRuns", json={"conf": conf})
    assert declared.status_code == 413
    assert "at most 4096 bytes are allowed ([limits] max_request_bytes)" in \
        declared.json()["detail"]

    def chunks() -> Iterator[bytes]:
        text = json.dumps({"conf": conf}).encode()
        yield from (text[i:i + 1000] for i in range(0, len(text), 1000))

    streamed = small.post("op", "/dags/api_etl/dagRuns", content=chunks(),
                          headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert "at most 4096 bytes" in streamed.json()["detail"]
    assert run_ids(small) == before
    assert small.post("op", "/dags/api_etl/dagRuns", json={"conf": {"n": 2}}).status_code == 200


@pytest.mark.parametrize("logical_date", [
    "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+14:00",
])
def test_a_logical_date_at_the_edge_of_the_calendar_is_a_422(api: ApiEnv,
                                                              logical_date: str) -> None:
    before = run_ids(api)
    response = api.post("op", "/dags/api_etl/dagRuns", json={"logical_date": logical_date})
    assert response.status_code == 422, response.text
    assert "is out of range: use a date from" in response.json()["detail"]
    assert run_ids(api) == before


def test_a_huge_map_index_is_a_422(api: ApiEnv) -> None:
    api.add_run("r1")
    path = "/dags/api_etl/dagRuns/r1/taskInstances/extract"
    for index in (2**31, 10**30):
        response = api.get("viewer", path, params={"map_index": index})
        assert response.status_code == 422, response.text
    assert api.get("viewer", path, params={"map_index": -1}).status_code == 200


@pytest.mark.parametrize("run_id", ["../x", "with space", "new\nline", "..", "r" * 251])
def test_a_run_id_off_the_rule_is_a_422(api: ApiEnv, run_id: str) -> None:
    before = run_ids(api)
    response = api.post("op", "/dags/api_etl/dagRuns", json={"dag_run_id": run_id})
    assert response.status_code == 422, response.text
    assert run_ids(api) == before
