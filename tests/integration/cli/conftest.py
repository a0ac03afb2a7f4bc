"""Fixtures for the store-backed commands: a home folder whose DAGs are seeded into the store.

Each test gets its own MILLSTREAM_HOME (a temporary folder, so a SQLite database of its own).
``backend_cli`` runs a test once on SQLite and once on PostgreSQL (a schema of its own, from
MILLSTREAM_TEST_POSTGRES_URL, dropped afterwards).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from cli_helpers import NEEDS_POSTGRES, POSTGRES_ENV, Cli
from sqlalchemy import text
from typer.testing import CliRunner

from millstream.store.sql import make_engine


def _clean_env(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    for name in list(os.environ):
        if name.startswith("MILLSTREAM__") or name == "MILLSTREAM_DAGS_FOLDER":
            monkeypatch.delenv(name)
    monkeypatch.setenv("MILLSTREAM_HOME", str(home))
    (home / "dags").mkdir(exist_ok=True)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI over a fresh home folder with its SQLite database."""
    _clean_env(monkeypatch, tmp_path)
    return Cli(tmp_path, CliRunner())


def _with_search_path(url: str, schema: str) -> str:
    options = quote(f"-csearch_path={schema}", safe="")
    return f"{url}{'&' if '?' in url else '?'}options={options}"


@pytest.fixture(params=["sqlite", "postgres"])
def backend_cli(request: pytest.FixtureRequest, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """The CLI over SQLite, then over a PostgreSQL schema of its own."""
    _clean_env(monkeypatch, tmp_path)
    if request.param == "sqlite":
        yield Cli(tmp_path, CliRunner())
        return
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(NEEDS_POSTGRES)
    schema = f"millstream_cli_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        monkeypatch.setenv("MILLSTREAM__DATABASE__URL", _with_search_path(url, schema))
        yield Cli(tmp_path, CliRunner())
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
