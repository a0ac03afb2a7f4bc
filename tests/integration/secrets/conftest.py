"""Fixtures for connections and variables end to end: a home per test, over SQLite or PostgreSQL.

``secrets_cli`` runs ``millstream`` commands in this process against a fresh home (its
SQLite file, or a PostgreSQL schema of its own from MILLSTREAM_TEST_POSTGRES_URL, dropped
afterwards). ``secrets_home`` is the engine tests' :class:`Home`, for runs through the
real scheduler and LocalExecutor.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

# The CLI and engine tests' helpers, shared rather than copied.
_INTEGRATION = Path(__file__).resolve().parents[1]
for _folder in ("cli", "engine"):
    if str(_INTEGRATION / _folder) not in sys.path:
        sys.path.insert(0, str(_INTEGRATION / _folder))

from cli_helpers import Cli  # noqa: E402
from engine_helpers import Home  # noqa: E402
from engine_helpers import postgres_schema_url as new_schema_url  # noqa: E402

from millstream.secrets.masking import clear_secrets  # noqa: E402
from millstream.store.sql.migrate import migrate  # noqa: E402

POSTGRES_ENV = "MILLSTREAM_TEST_POSTGRES_URL"
NEEDS_POSTGRES = "needs PostgreSQL: set MILLSTREAM_TEST_POSTGRES_URL"


def postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(NEEDS_POSTGRES)
    return url


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections see only a schema of their own (dropped after)."""
    yield from new_schema_url(postgres_base_url(), "secrets")


@pytest.fixture
def clean_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This process's MILLSTREAM_HOME in the test's folder, no other millstream settings."""
    for name in list(os.environ):
        if name.startswith("MILLSTREAM") and not name.startswith("MILLSTREAM_TEST_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    (home / "dags").mkdir(parents=True)
    monkeypatch.setenv("MILLSTREAM_HOME", str(home))
    clear_secrets()
    yield home
    clear_secrets()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, clean_home: Path) -> str:
    """'sqlite' (the home's default file) or 'postgres' (MILLSTREAM__DATABASE__URL set)."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_schema_url")
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setenv("MILLSTREAM__DATABASE__URL", url)
    return str(request.param)


@pytest.fixture
def secrets_cli(database: str, clean_home: Path) -> Cli:
    """The CLI over a fresh home with no Fernet key yet, on SQLite or PostgreSQL."""
    return Cli(clean_home, CliRunner())


@pytest.fixture
def sqlite_cli(clean_home: Path) -> Cli:
    """The CLI over a fresh home on its SQLite file (for what does not depend on the DB)."""
    return Cli(clean_home, CliRunner())


@pytest.fixture(params=["sqlite", "postgres"])
def secrets_home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Home]:
    """A migrated home for the real scheduler, over SQLite or a PostgreSQL schema."""
    path = tmp_path / "engine-home"
    (path / "dags").mkdir(parents=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    if request.param == "sqlite":
        url = f"sqlite:///{path / 'millstream.db'}"
    else:
        url = request.getfixturevalue("postgres_schema_url")
    migrate(url)
    home = Home(path, url, scratch)
    try:
        yield home
    finally:
        home.close()


@pytest.fixture
def blank_secrets_home(tmp_path: Path) -> Iterator[Home]:
    """A home with nothing in it yet: no database, no Fernet key (standalone's first start)."""
    path = tmp_path / "blank-home"
    (path / "dags").mkdir(parents=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    home = Home(path, f"sqlite:///{path / 'millstream.db'}", scratch)
    home.settings_env["MILLSTREAM__SCHEDULER__PARSE_INTERVAL_S"] = "1"
    try:
        yield home
    finally:
        home.close()
