"""The schema comes from the migrations alone and matches the ORM rows (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url
from tests.autocommit import autocommit
from tests.store_fixtures import (
    drop_postgres_schema,
    new_schema_name,
    postgres_schema_engine,
    postgres_url,
)

from millstream.store.sql import SqlStore, make_engine
from millstream.store.sql.migrate import (
    MIGRATIONS_DIR,
    MigrationError,
    check,
    is_up_to_date,
    migrate,
    reset,
    schema_drift,
)
from millstream.store.sql.models import Base

# Every revision, oldest first: one linear history, none missing from the package.
REVISIONS = ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010",
             "0011", "0012", "0013", "0014"]


@pytest.fixture(params=["sqlite", "postgres"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with no tables at all: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        engine.dispose()
        return
    yield request.getfixturevalue("fresh_postgres_engine")


def test_a_new_database_is_pending_every_revision_then_up_to_date(empty_engine: Engine) -> None:
    assert check(empty_engine) == REVISIONS
    assert not is_up_to_date(empty_engine)
    migrate(empty_engine)
    assert check(empty_engine) == []
    assert is_up_to_date(empty_engine)
    migrate(empty_engine)  # a second run has nothing to do
    tables = set(inspect(empty_engine).get_table_names())
    assert tables == {t.name for t in Base.metadata.tables.values()} | {"alembic_version"}


def test_migrated_schema_matches_the_orm_rows(empty_engine: Engine) -> None:
    migrate(empty_engine)
    assert schema_drift(empty_engine) == []


def test_drift_between_schema_and_rows_is_detected(empty_engine: Engine) -> None:
    migrate(empty_engine)
    with empty_engine.begin() as connection:
        connection.execute(text("ALTER TABLE pool ADD COLUMN colour VARCHAR(10)"))
    drift = schema_drift(empty_engine)
    assert drift and drift[0][0] == "remove_column"


def test_migration_creates_the_default_pool(empty_engine: Engine) -> None:
    migrate(empty_engine)
    with empty_engine.connect() as connection:
        rows = connection.execute(text("SELECT name, slots FROM pool")).all()
    assert [tuple(row) for row in rows] == [("default_pool", 128)]


def test_reset_drops_the_data_and_migrates_again(empty_engine: Engine) -> None:
    migrate(empty_engine)
    store = autocommit(SqlStore(empty_engine))
    store.pools.set("db", 2)
    store.close()
    reset(empty_engine)
    assert check(empty_engine) == []
    store = autocommit(SqlStore(empty_engine))
    assert store.pools.slots("db") is None
    assert store.pools.slots("default_pool") == 128
    store.close()
    assert schema_drift(empty_engine) == []


def test_a_revision_unknown_to_this_version_is_reported(empty_engine: Engine) -> None:
    migrate(empty_engine)
    with empty_engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    with pytest.raises(MigrationError, match="revision f00d"):
        check(empty_engine)


def test_migrate_accepts_a_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'by_url.db'}"
    migrate(url)
    assert check(url) == []
    engine = make_engine(url)
    with engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    engine.dispose()
    assert mode == "wal"


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    shipped = sorted(p.name.split("_")[0] for p in (MIGRATIONS_DIR / "versions").glob("*.py"))
    assert shipped == REVISIONS
    assert MIGRATIONS_DIR.parent.name == "store"


def test_importing_millstream_does_not_import_sqlalchemy() -> None:
    probe = (
        "import sys, millstream, millstream.store.interfaces, millstream.store.memory; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"



@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_services_migrating_a_new_database_at_once_all_succeed(
    kind: str, tmp_path: Path
) -> None:
    """The compose layout starts every service together on an empty database: each
    process migrates it, one at a time, and the later ones find nothing to do."""
    schema = new_schema_name("race")
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        base = postgres_url()
        postgres_schema_engine(base, schema).dispose()
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}) \
            .render_as_string(hide_password=False)
    program = ("import sys; from millstream.store.sql.migrate import migrate; "
               "migrate(sys.argv[1])")
    try:
        starters = [subprocess.Popen([sys.executable, "-c", program, url],
                                     stderr=subprocess.PIPE, text=True) for _ in range(4)]
        failures = [p.communicate(timeout=120)[1] for p in starters if p.wait(120) != 0]
        assert failures == []
        engine = make_engine(url)
        try:
            assert check(engine) == []
        finally:
            engine.dispose()
    finally:
        if kind == "postgres":
            drop_postgres_schema(base, schema)
def test_the_latest_revision_read_from_the_files_is_alembics_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from millstream.store.sql.schema_version import head_revisions

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert head_revisions() == frozenset(ScriptDirectory.from_config(config).get_heads())
    assert head_revisions() == {REVISIONS[-1]}


def test_an_up_to_date_database_is_migrated_and_checked_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'current.db'}"
    migrate(url)
    probe = (
        "import sys; from millstream.store.sql.migrate import check, migrate; "
        f"migrate({url!r}); pending = check({url!r}); "
        "print(pending, sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako'}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[] []"
    with make_engine(url).begin() as connection:  # one behind: Alembic is asked again
        connection.execute(text("UPDATE alembic_version SET version_num = :v"),
                           {"v": REVISIONS[-2]})
    assert check(url) == [REVISIONS[-1]]


def test_runs_kept_before_the_run_counts_are_counted_by_the_migration(
    empty_engine: Engine,
) -> None:
    migrate(empty_engine, "0010")
    insert = text(
        "INSERT INTO dag_run (dag_id, run_id, logical_date, data_interval_start, "
        "data_interval_end, run_type, state, conf) VALUES (:dag, :run, :day, :day, :day, "
        "'scheduled', :state, '{}')")
    with empty_engine.begin() as connection:
        for dag, run, day, state in [("a", "r1", "2026-01-01", "success"),
                                     ("a", "r2", "2026-01-02", "success"),
                                     ("a", "r3", "2026-01-03", "failed"),
                                     ("b", "r1", "2026-01-01", "running")]:
            connection.execute(insert, {"dag": dag, "run": run, "day": f"{day} 00:00:00",
                                        "state": state})
    migrate(empty_engine)
    with empty_engine.begin() as connection:
        connection.execute(text("UPDATE dag_run SET state = 'success' WHERE dag_id = 'b'"))
        connection.execute(text("DELETE FROM dag_run WHERE run_id = 'r3'"))
        counts = connection.execute(text(
            "SELECT dag_id, state, runs FROM dag_run_count WHERE runs > 0 "
            "ORDER BY dag_id, state")).all()
    assert [tuple(row) for row in counts] == [("a", "success", 2), ("b", "success", 1)]
