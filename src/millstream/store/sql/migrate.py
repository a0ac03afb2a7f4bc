"""Bringing a database's schema up to date with the Alembic migrations, checking it, resetting it.

The schema is created only by the migrations in ``millstream/store/migrations``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, MetaData, Table
from sqlalchemy.engine import URL

from millstream.store.sql.engine import make_engine
from millstream.store.sql.models import Base
from millstream.store.sql.schema_version import MIGRATIONS_DIR, VERSION_TABLE, is_at_head

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["MIGRATIONS_DIR", "VERSION_TABLE", "MigrationError", "check", "has_schema",
           "is_up_to_date", "migrate", "reset", "schema_drift"]


class MigrationError(RuntimeError):
    """The migrations cannot run, e.g. the database is at a revision this version does not know."""


def migrate(url: str | URL | Engine, revision: str = "heads") -> None:
    """Apply every migration the database has not had yet (up to ``revision``).

    A database that has every migration already is not shown to Alembic, which is then
    never imported: a long-running process keeps none of it.
    """
    with _engine(url) as engine:
        if revision == "heads" and is_at_head(engine):
            return
        from alembic import command
        from alembic.script.revision import RevisionError
        from alembic.util.exc import CommandError

        with engine.begin() as connection:
            try:
                command.upgrade(_config(connection), revision)
            except (CommandError, RevisionError) as exc:
                raise MigrationError(f"cannot migrate to {revision!r}: {exc}") from None


def check(url: str | URL | Engine) -> list[str]:
    """The revisions not yet applied, oldest first; empty when the schema is up to date."""
    with _engine(url) as engine:
        if is_at_head(engine):
            return []
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory
        from alembic.script.revision import RevisionError
        from alembic.util.exc import CommandError

        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    script = ScriptDirectory.from_config(_config())
    try:
        pending = list(script.iterate_revisions(tuple(script.get_heads()), current or "base"))
    except (CommandError, RevisionError) as exc:
        raise MigrationError(
            f"the database is at revision {', '.join(current)}, which this version of "
            f"millstream does not know (was it migrated by a newer version?): {exc}"
        ) from None
    return [revision.revision for revision in reversed(pending)]


def has_schema(engine: Engine) -> bool:
    """Whether migrations were ever run on this database."""
    from sqlalchemy import inspect

    return inspect(engine).has_table(VERSION_TABLE)


def is_up_to_date(url: str | URL | Engine) -> bool:
    """Whether every migration has been applied."""
    return not check(url)


def reset(url: str | URL | Engine) -> None:
    """Drop millstream's tables (data included) and migrate from scratch."""
    with _engine(url) as engine:
        with engine.begin() as connection:
            present = MetaData()
            present.reflect(connection)
            ours = [t.name for t in Base.metadata.sorted_tables] + [VERSION_TABLE]
            for name in reversed(_dependency_order(present, ours)):
                present.tables[name].drop(connection)
        migrate(engine)


def schema_drift(url: str | URL | Engine) -> list[Any]:
    """Differences between the migrated schema and the ORM rows (empty when they agree)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with _engine(url) as engine, engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def _dependency_order(present: MetaData, names: list[str]) -> list[str]:
    wanted = set(names)
    tables: list[Table] = [t for t in present.sorted_tables if t.name in wanted]
    return [t.name for t in tables]


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def _engine(url: str | URL | Engine) -> Iterator[Engine]:
    """The given engine, or a new one for a URL that is disposed of afterwards."""
    if isinstance(url, Engine):
        yield url
        return
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
