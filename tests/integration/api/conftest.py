"""Fixtures of the REST API tests: a home folder with a migrated SQLite database, users of
every role with API tokens, the test DAGs stored, and a TestClient over ``create_app``.

Making users is slow on purpose (argon2), so one template database is prepared per test
session and each test works on a copy of it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from millstream.config import load_settings
from millstream.store.sql import SqlStore, make_engine
from millstream.store.sql.migrate import migrate
from millstream.ui.server import create_app
from tests.integration.api.api_helpers import (
    DAGS_FOLDER,
    PASSWORDS,
    ApiEnv,
    seed_dags,
    seed_users,
)

FERNET_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="session")
def api_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A migrated database with the users and DAGs, and each role's API token."""
    home = tmp_path_factory.mktemp("api-template")
    settings = load_settings(home=home, environ={})
    engine = make_engine(settings.database.url)
    try:
        migrate(engine)
        store = SqlStore(engine)
        try:
            tokens = seed_users(store, PASSWORDS)
            seed_dags(store, DAGS_FOLDER)
        finally:
            store.close()
    finally:
        engine.dispose()  # the last connection folds the WAL into the file
    return home / "millstream.db", tokens


@pytest.fixture
def api(api_template: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[ApiEnv]:
    """The web server over a copy of the template database, in a home of its own."""
    database, tokens = api_template
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(database, home / "millstream.db")
    settings = load_settings(home=home, environ={"MILLSTREAM__CORE__FERNET_KEY": FERNET_KEY})
    app = create_app(settings)
    with TestClient(app) as client:
        env = ApiEnv(settings, client, tokens)
        try:
            yield env
        finally:
            env.close()
