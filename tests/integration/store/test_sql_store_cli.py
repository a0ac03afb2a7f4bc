"""``millstream db migrate|check|reset`` over a SQLite file and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from tests.autocommit import autocommit
from typer.testing import CliRunner

from millstream.cli.db import db_app
from millstream.store.sql import SqlStore, make_engine

runner = CliRunner()


def test_migrate_check_and_reset_a_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'folder' / 'millstream.db'}"
    pending = runner.invoke(db_app, ["check", "--url", url])
    assert pending.exit_code == 1 and "does not exist yet" in pending.output
    assert not (tmp_path / "nested").exists()

    migrated = runner.invoke(db_app, ["migrate", "--url", url])
    assert migrated.exit_code == 0, migrated.output
    assert "applied 0001" in migrated.output
    again = runner.invoke(db_app, ["migrate", "--url", url])
    assert again.exit_code == 0 and "is up to date" in again.output
    assert runner.invoke(db_app, ["check", "--url", url]).exit_code == 0
    fresh = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = make_engine(fresh)
    engine.connect().close()  # an empty file, never migrated
    engine.dispose()
    pending = runner.invoke(db_app, ["check", "--url", fresh])
    assert pending.exit_code == 1 and "needs migrations: 0001" in pending.output

    refused = runner.invoke(db_app, ["reset", "--url", url], input="n\n")
    assert refused.exit_code == 1 and "nothing changed" in refused.output
    reset = runner.invoke(db_app, ["reset", "--url", url, "--yes"])
    assert reset.exit_code == 0 and "was reset" in reset.output


def test_a_bad_url_is_a_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(db_app, ["check", "--url", "mysql://root@localhost/x"])
    assert result.exit_code == 2
    assert "unsupported database URL" in result.output
    assert "Traceback" not in result.output


def test_the_url_comes_from_the_settings_by_default(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'from-settings.db'}"
    monkeypatch.setenv("MILLSTREAM_HOME", str(tmp_path))
    monkeypatch.setenv("MILLSTREAM__DATABASE__URL", url)
    result = runner.invoke(db_app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "from-settings.db").exists()


def test_postgres_password_is_hidden_and_reset_keeps_the_schema(
    clean_postgres_engine: Engine,
) -> None:
    url = clean_postgres_engine.url.render_as_string(hide_password=False)
    with clean_postgres_engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar()
    url_with_schema = f"{url}?options=-csearch_path%3D{schema}"
    store = autocommit(SqlStore(clean_postgres_engine))
    store.pools.set("db", 3)
    store.close()
    result = runner.invoke(db_app, ["reset", "--yes", "--url", url_with_schema])
    assert result.exit_code == 0, result.output
    store = autocommit(SqlStore(clean_postgres_engine))
    assert store.pools.slots("db") is None
    store.close()
    assert runner.invoke(db_app, ["check", "--url", url_with_schema]).exit_code == 0
