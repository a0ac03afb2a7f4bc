"""Stores for the contract suite and the scheduler's: in memory, SQLite in a temporary
file, and PostgreSQL.

PostgreSQL comes from MILLSTREAM_TEST_POSTGRES_URL; each test session works in a schema of
its own (dropped at the end), and every test starts from freshly emptied tables. A
conftest imports the fixtures it needs from here by name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from millstream.store.interfaces import Store
from millstream.store.memory import MemoryStore
from millstream.store.sql import SqlStore, make_engine
from millstream.store.sql.migrate import migrate
from millstream.store.sql.models import Base
from tests.autocommit import autocommit

POSTGRES_ENV = "MILLSTREAM_TEST_POSTGRES_URL"
NEEDS_POSTGRES = "needs PostgreSQL (MILLSTREAM_TEST_POSTGRES_URL)"

StoreFactory = Callable[..., Store]


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(NEEDS_POSTGRES)
    return url


def postgres_schema_engine(url: str, schema: str) -> Engine:
    """An engine whose connections see only ``schema`` (created if missing)."""
    admin = make_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        admin.dispose()
    return make_engine(url, connect_args={"options": f"-csearch_path={schema}"})


def drop_postgres_schema(url: str, schema: str) -> None:
    admin = make_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


def new_schema_name(purpose: str) -> str:
    return f"millstream_{purpose}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """A migrated PostgreSQL schema private to this test session."""
    url = postgres_url()
    schema = new_schema_name("test")
    engine = postgres_schema_engine(url, schema)
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        drop_postgres_schema(url, schema)


@pytest.fixture
def fresh_postgres_engine() -> Iterator[Engine]:
    """A PostgreSQL schema with no tables at all, dropped after the test."""
    url = postgres_url()
    schema = new_schema_name("fresh")
    engine = postgres_schema_engine(url, schema)
    try:
        yield engine
    finally:
        engine.dispose()
        drop_postgres_schema(url, schema)


@pytest.fixture
def clean_postgres_engine(postgres_engine: Engine) -> Engine:
    """The session's PostgreSQL schema with every table emptied and the default pool back."""
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with postgres_engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        connection.execute(text(
            "INSERT INTO pool (name, slots, description) "
            "VALUES ('default_pool', 128, 'Default pool')"
        ))
    return postgres_engine


@pytest.fixture
def two_postgres_stores(clean_postgres_engine: Engine) -> Iterator[tuple[Store, Store]]:
    """Two stores over the emptied PostgreSQL schema, as two schedulers would hold them."""
    first = autocommit(SqlStore(clean_postgres_engine))
    second = autocommit(SqlStore(clean_postgres_engine))
    try:
        yield first, second
    finally:
        first.close()
        second.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies instead of migrating again."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
    finally:
        engine.dispose()  # the last connection closing folds the WAL into the file
    return path


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "millstream.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def _sql_engine(request: pytest.FixtureRequest, kind: str) -> Engine:
    if kind == "sqlite":
        return request.getfixturevalue("sqlite_engine")  # type: ignore[no-any-return]
    return request.getfixturevalue("clean_postgres_engine")  # type: ignore[no-any-return]


STORE_KINDS = ["memory", "sqlite", "postgres"]


@contextlib.contextmanager
def raw_store_factory(request: pytest.FixtureRequest, kind: str) -> Iterator[StoreFactory]:
    """Makes stores of ``kind`` as production code gets them (a repository call outside
    a transaction raises); SQL stores made by one factory share one database."""
    if kind == "memory":
        yield lambda open_pools=False: MemoryStore(open_pools=open_pools)
        return
    engine = _sql_engine(request, kind)
    made: list[SqlStore] = []

    def make(open_pools: bool = False) -> Store:
        store = SqlStore(engine, open_pools=open_pools)
        made.append(store)
        return store

    try:
        yield make
    finally:
        for store in made:
            store.close()


@pytest.fixture(params=STORE_KINDS)
def store_factory(request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    """Makes stores of one kind, seen through :mod:`tests.autocommit`."""
    with raw_store_factory(request, request.param) as make:
        yield lambda open_pools=False: autocommit(make(open_pools=open_pools))


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    return store_factory()


@pytest.fixture(params=STORE_KINDS)
def raw_store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh, empty store of each kind in turn, as production code gets it."""
    with raw_store_factory(request, request.param) as make:
        yield make()


@pytest.fixture(params=["sqlite", "postgres"])
def sql_engine(request: pytest.FixtureRequest) -> Engine:
    """A migrated, empty database: SQLite in a temporary file, or PostgreSQL."""
    return _sql_engine(request, request.param)


@pytest.fixture
def sql_store(sql_engine: Engine) -> Iterator[SqlStore]:
    """A SQL store whose repository calls outside a transaction each commit on their own
    (see :mod:`tests.autocommit`); ``sql_store.raw`` is the store itself."""
    store = SqlStore(sql_engine)
    yield autocommit(store)
    store.close()
