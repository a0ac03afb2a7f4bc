"""Variables and connections over SQL; like the other repositories, each never commits."""

from __future__ import annotations

import builtins
from dataclasses import asdict, fields
from typing import Any, cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from millstream.exceptions import InvalidInputError
from millstream.store.secrets_records import ConnectionRecord, VariableRecord
from millstream.store.sql.common import rowcount, upsert
from millstream.store.sql.models_secrets import ConnectionRow, VariableRow

VARIABLE_TABLE = cast(Table, VariableRow.__table__)
CONNECTION_TABLE = cast(Table, ConnectionRow.__table__)

_VARIABLE_FIELDS = tuple(f.name for f in fields(VariableRecord))
_CONNECTION_FIELDS = tuple(f.name for f in fields(ConnectionRecord))


def _check_page(limit: int | None, offset: int) -> None:
    if offset < 0:
        raise InvalidInputError(f"offset must be >= 0, got {offset}")
    if limit is not None and limit < 0:
        raise InvalidInputError(f"limit must be >= 0, got {limit}")


class _KeyedRepo:
    """The shared shape: one table keyed by one text column, rows mapped to one record type."""

    table: Table
    key_column: str
    field_names: tuple[str, ...]

    def __init__(self, session: Session) -> None:
        self.session = session

    def _get(self, key: str) -> dict[str, Any] | None:
        columns = [self.table.c[name] for name in self.field_names]
        row = self.session.execute(
            select(*columns).where(self.table.c[self.key_column] == key)
        ).first()
        return None if row is None else dict(row._mapping)

    def _set(self, values: dict[str, Any]) -> None:
        changed = [name for name in self.field_names if name != self.key_column]
        self.session.execute(upsert(self.session, self.table, [self.key_column], changed),
                             [values])

    def delete(self, key: str) -> bool:
        column = self.table.c[self.key_column]
        result = self.session.execute(delete(self.table).where(column == key))
        return rowcount(result) > 0

    def count(self) -> int:
        return int(self.session.execute(select(func.count()).select_from(self.table)).scalar_one())

    def _list(self, limit: int | None, offset: int) -> builtins.list[dict[str, Any]]:
        _check_page(limit, offset)
        columns = [self.table.c[name] for name in self.field_names]
        query = select(*columns).order_by(self.table.c[self.key_column]).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return [dict(row._mapping) for row in self.session.execute(query)]


class SqlVariableRepo(_KeyedRepo):
    """Variables in the ``variable`` table."""

    table = VARIABLE_TABLE
    key_column = "key"
    field_names = _VARIABLE_FIELDS

    def get(self, key: str) -> VariableRecord | None:
        values = self._get(key)
        return None if values is None else VariableRecord(**values)

    def set(self, record: VariableRecord) -> None:
        self._set(asdict(record))

    def list(self, limit: int | None = None, offset: int = 0) -> builtins.list[VariableRecord]:
        return [VariableRecord(**values) for values in self._list(limit, offset)]


class SqlConnectionRepo(_KeyedRepo):
    """Connections in the ``connection`` table."""

    table = CONNECTION_TABLE
    key_column = "conn_id"
    field_names = _CONNECTION_FIELDS

    def get(self, conn_id: str) -> ConnectionRecord | None:
        values = self._get(conn_id)
        return None if values is None else ConnectionRecord(**values)

    def set(self, record: ConnectionRecord) -> None:
        self._set(asdict(record))

    def list(self, limit: int | None = None, offset: int = 0) -> builtins.list[ConnectionRecord]:
        return [ConnectionRecord(**values) for values in self._list(limit, offset)]
