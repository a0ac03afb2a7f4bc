"""A store transaction on PostgreSQL is begun as the pool hands its connection over, and
that ``BEGIN`` checks the connection as the pool's ping did: one round trip fewer, and a
connection the server ended while pooled is still replaced unseen."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import pq
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import ExceptionContext, make_url
from tests.store_fixtures import postgres_schema_engine, postgres_url

from millstream.exceptions import StoreUsageError
from millstream.store.sql import SqlStore
from millstream.store.sql import repos as sql_repos
from millstream.store.sql.common import connection_of, execute
from millstream.store.sql.engine import make_engine

RUN = {"k_dag_id": "etl", "k_run_id": "manual__1"}


def _schema(engine: Engine) -> str:
    with engine.connect() as connection:
        schema: str = connection.execute(text("SELECT current_schema()")).scalar_one()
    return schema


@pytest.fixture
def engine(clean_postgres_engine: Engine) -> Iterator[Engine]:
    """An engine of its own (one pooled connection) on the test session's schema."""
    made = postgres_schema_engine(postgres_url(), _schema(clean_postgres_engine))
    yield made
    made.dispose()


def _stores(clean_postgres_engine: Engine, *variants: dict[str, Any]
            ) -> Iterator[tuple[dict[str, Any], SqlStore]]:
    """A store over a new engine on the test session's schema, made with each variant of
    ``make_engine``'s keyword arguments in turn (the engine is disposed of after)."""
    options = {"options": f"-csearch_path={_schema(clean_postgres_engine)}"}
    for kwargs in variants:
        made = make_engine(postgres_url(), connect_args=options, **kwargs)
        store = SqlStore(made)
        try:
            yield kwargs, store
        finally:
            store.close()
            made.dispose()


def _driver(store: SqlStore) -> Any:
    """The psycopg connection of the store's current transaction."""
    return connection_of(store.session).connection.driver_connection


def _terminate(pid: int) -> None:
    """End the server session ``pid`` from a connection of no pool."""
    url = make_url(postgres_url()).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


def test_a_store_transaction_is_its_begin_its_statements_and_its_commit(
    engine: Engine,
) -> None:
    store = SqlStore(engine)
    try:
        with store.transaction():  # makes the pooled connection
            driver = _driver(store)
        with tempfile.TemporaryDirectory() as folder:
            trace = Path(folder) / "trace"
            with trace.open("w") as sink:
                driver.pgconn.trace(sink.fileno())
                driver.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
                try:
                    with store.transaction():
                        assert _driver(store) is driver
                        # begun as handed over, before any statement
                        assert driver.info.transaction_status == pq.TransactionStatus.INTRANS
                        execute(store.session, sql_repos._RUN_GET, RUN).first()
                finally:
                    driver.pgconn.untrace()
            lines = trace.read_text().splitlines()
        sent = [line.split("\t")[2:] for line in lines if line.startswith("F\t")]
        # three round trips, BEGIN first: no ping before it
        assert [part[0].strip() for part in sent if part[0].strip() in ("Query", "Sync")] == [
            "Query", "Sync", "Query"]
        assert [part[1].strip() for part in sent if part[0].strip() == "Query"] == [
            '"BEGIN"', '"COMMIT"']
        assert sum("ReadyForQuery" in line for line in lines) == 3
    finally:
        store.close()


def test_a_connection_the_server_ended_while_pooled_is_replaced_unseen(
    engine: Engine,
) -> None:
    errors: list[ExceptionContext] = []

    def on_error(context: ExceptionContext) -> None:
        errors.append(context)

    event.listen(engine, "handle_error", on_error)
    store = SqlStore(engine)
    try:
        with store.transaction():
            first = _driver(store).info.backend_pid
        _terminate(first)
        with store.transaction():  # neither raises nor sees the ended connection
            assert execute(store.session, sql_repos._RUN_GET, RUN).first() is None
            assert _driver(store).info.backend_pid != first
        assert [(c.is_disconnect, c.is_pre_ping) for c in errors] == [(True, True)]
    finally:
        event.remove(engine, "handle_error", on_error)
        store.close()


def test_a_connection_taken_outside_a_store_transaction_is_pinged_as_before(
    engine: Engine,
) -> None:
    with engine.connect() as connection:
        first = connection.connection.driver_connection.info.backend_pid
        connection.rollback()
    _terminate(first)
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert driver.info.transaction_status == pq.TransactionStatus.IDLE
        assert driver.info.backend_pid != first
        assert connection.execute(text("SELECT 1")).scalar_one() == 1


def test_whoever_takes_the_connection_next_gets_transactions_again(
    engine: Engine,
) -> None:
    """Inside a store transaction psycopg is in autocommit mode (the transaction is the
    one its BEGIN opened); whoever takes the connection next gets transactions again."""
    store = SqlStore(engine)
    try:
        with store.transaction():
            assert _driver(store).autocommit
        with engine.connect() as connection:
            assert connection.connection.driver_connection.autocommit is False
            connection.execute(text("CREATE TABLE millstream_uncommitted (id int)"))
            connection.rollback()
        with engine.connect() as connection:
            assert connection.execute(
                text("SELECT to_regclass('millstream_uncommitted')")).scalar() is None
    finally:
        store.close()


def test_without_the_ping_or_in_autocommit_psycopg_begins_as_it_does(
    clean_postgres_engine: Engine,
) -> None:
    for _, store in _stores(clean_postgres_engine, {"pool_pre_ping": False},
                            {"isolation_level": "AUTOCOMMIT"}):
        for _ in range(2):  # a fresh connection, then the pooled one
            with store.transaction():
                driver = _driver(store)
                assert driver.info.transaction_status == pq.TransactionStatus.IDLE
                assert execute(store.session, sql_repos._RUN_GET, RUN).first() is None


def test_a_read_only_transaction_begins_read_only_with_or_without_the_ping(
    clean_postgres_engine: Engine,
) -> None:
    for kwargs, store in _stores(clean_postgres_engine, {}, {"pool_pre_ping": False}):
        for _ in range(2):  # a fresh connection, then the pooled one
            with store.transaction(read_only=True):
                read_only = execute(store.session, text("SHOW transaction_read_only"))
                assert read_only.scalar_one() == "on", kwargs
                with pytest.raises(StoreUsageError, match="read-only"):
                    store.pools.set("refused", 1)
            with store.transaction():  # and the next one writes
                store.pools.set("written", 1)
                assert execute(store.session, text("SHOW transaction_read_only")
                               ).scalar_one() == "off"
