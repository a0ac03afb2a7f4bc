"""Fixtures of the hook tests: an isolated home, a PostgreSQL schema, a real HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.hooks.pg import postgres_schema_uri
from tests.integration.hooks.servers import RecordingHttpServer

PG_CONN_ID = "pg_test"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings come from an empty home, never the user's own."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("MILLSTREAM_HOME", str(home))
    return home


@pytest.fixture
def pg_conn_id(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Connection ``pg_test`` (env var) to a fresh PostgreSQL schema of this test."""
    with postgres_schema_uri("hooks") as (uri, _schema):
        monkeypatch.setenv(f"MILLSTREAM_CONN_{PG_CONN_ID.upper()}", uri)
        yield PG_CONN_ID


@pytest.fixture
def http_server() -> Iterator[RecordingHttpServer]:
    server = RecordingHttpServer().start()
    yield server
    server.stop()
