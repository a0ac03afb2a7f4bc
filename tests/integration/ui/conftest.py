"""Fixtures of the web UI tests: a SQLite database with a user per role, the test DAGs and
real runs of them (made by the scheduler), and the web server over a copy of it.

Users (argon2) and runs are slow to make, so one template database is prepared per test
session and each test works on a copy of it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from millstream.config import load_settings
from millstream.model.states import DagRunState
from millstream.store.sql import SqlStore, make_engine
from millstream.store.sql.migrate import migrate
from millstream.ui.catalog import CATALOG
from millstream.ui.server import create_app
from tests.autocommit import autocommit
from tests.integration.ui.ui_helpers import (
    ETL_RUNS,
    UiEnv,
    load_dags,
    run_to_end,
    seed_dags,
    seed_users,
)

FERNET_KEY = Fernet.generate_key().decode()


@dataclass(frozen=True)
class Seeded:
    """The template database and the runs in it."""

    database: Path
    etl_runs: tuple[str, ...]
    failed_run: str


@pytest.fixture(scope="session")
def ui_template(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    home = tmp_path_factory.mktemp("ui-template")
    settings = load_settings(home=home, environ={})
    engine = make_engine(settings.database.url)
    try:
        migrate(engine)
        raw = SqlStore(engine)
        store = autocommit(raw)  # seeding: the scheduler's tick opens its own transactions
        try:
            seed_users(store)
            bag = load_dags()
            seed_dags(store, bag)
            etl = [run_to_end(store, bag, "ui_etl", day) for day in range(ETL_RUNS)]
            failed = run_to_end(store, bag, "ui_failing", 0)
        finally:
            raw.close()
    finally:
        engine.dispose()  # the last connection folds the WAL into the file
    assert all(run.state is DagRunState.SUCCESS for run in etl), etl
    assert failed.state is DagRunState.FAILED
    return Seeded(home / "millstream.db", tuple(r.run_id for r in etl), failed.run_id)


@pytest.fixture
def ui(ui_template: Seeded, tmp_path: Path) -> Iterator[UiEnv]:
    """The web server over a copy of the template database, in a home of its own."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(ui_template.database, home / "millstream.db")
    settings = load_settings(home=home, environ={"MILLSTREAM__CORE__FERNET_KEY": FERNET_KEY})
    CATALOG.clear()
    env = UiEnv(settings, create_app(settings))
    try:
        yield env
    finally:
        env.close()


@pytest.fixture
def seeded(ui_template: Seeded) -> Seeded:
    return ui_template
