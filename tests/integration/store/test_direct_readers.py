"""On both direct paths (SQLite's and PostgreSQL's) a row is read as SQLAlchemy reads it,
although only the columns with a processor are visited and NULL is mostly passed over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, String, TypeDecorator, bindparam, select, type_coerce
from sqlalchemy.engine import Connection

from millstream.model.states import DagRunState, TaskState
from millstream.store.records import DagRunRecord, TaskInstanceKey, TaskInstanceRecord
from millstream.store.sql import SqlStore
from millstream.store.sql.common import connection_of
from millstream.store.sql.convert import TI_TABLE
from millstream.store.sql.direct_statements import DirectResult, direct
from millstream.store.sql.pg_direct import run_direct_postgresql
from millstream.store.sql.sqlite_direct import run_direct

MOMENT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


class _NullAsWord(TypeDecorator[str]):
    """A column type that reads NULL as a word (as a user type might)."""

    impl = String
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> str:
        return "nobody" if value is None else f"host {value}"


_HOSTS = direct(select(TI_TABLE.c.task_id, type_coerce(TI_TABLE.c.hostname, _NullAsWord()),
                       TI_TABLE.c.start_date)
                .where(TI_TABLE.c.dag_id == bindparam("dag_id"))
                .order_by(TI_TABLE.c.task_id))


def _run_direct(connection: Connection, statement: Any, params: dict[str, Any]) -> Any:
    if connection.dialect.name == "sqlite":
        return run_direct(connection, statement, params)
    return run_direct_postgresql(connection, statement, params)


def test_a_processor_is_called_for_null_only_if_it_makes_something_of_it(
        sql_engine: Engine) -> None:
    store = SqlStore(sql_engine)
    try:
        run = DagRunRecord("etl", "manual__1", MOMENT, MOMENT, MOMENT + timedelta(hours=1),
                           state=DagRunState.RUNNING)
        with store.transaction():
            store.runs.add(run)
            store.task_instances.add_many([TaskInstanceRecord("etl", run.run_id, name)
                                           for name in ("extract", "load")])
            ti = store.task_instances.get(TaskInstanceKey("etl", run.run_id, "load"))
            assert ti is not None
            store.task_instances.set_state(ti, TaskState.SCHEDULED, hostname="worker-1",
                                           start_date=MOMENT)
        with store.transaction():
            connection = connection_of(store.session)
            read = _run_direct(connection, _HOSTS, {"dag_id": "etl"})
            assert isinstance(read, DirectResult)  # it did take the direct path
            through = [tuple(row) for row in connection.execute(_HOSTS, {"dag_id": "etl"})]
        assert read.all() == through == [("extract", "nobody", None),
                                         ("load", "host worker-1", MOMENT)]
    finally:
        store.close()
