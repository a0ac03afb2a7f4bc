"""SQLExecuteQueryOperator: runs SQL on a database connection and returns the rows as XCom."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from millstream.authoring.task import BaseOperator
from millstream.exceptions import MillstreamError
from millstream.hooks.base import BaseHook, get_hook
from millstream.hooks.dbapi import DbApiHook, fetch_all_handler

log = logging.getLogger("millstream.task")


class SQLExecuteQueryOperator(BaseOperator):
    """Run ``sql`` (one statement, a script, a list, or a ``.sql`` template file) on
    ``conn_id``.

    ``sql`` and ``parameters`` are templated; a value ending in ``.sql`` is read from the
    DAG folder (or ``template_searchpath``) and rendered with Jinja. ``parameters`` are
    bound by the driver (``%s`` on PostgreSQL, ``?`` on SQLite), never pasted into the
    text. With ``split_statements`` a script runs statement by statement. The result
    of ``handler`` (by default every row) is pushed to XCom as JSON: rows become lists,
    dates ISO strings, decimals numbers. It is the last statement's result when ``sql``
    is a string and ``return_last``, else a list with one result per statement.
    """

    template_fields = ("conn_id", "sql", "parameters", "hook_params")
    template_ext = (".sql",)
    ui_color = "#cdaaed"

    def __init__(
        self,
        *,
        sql: str | list[str],
        conn_id: str,
        autocommit: bool = False,
        parameters: Sequence[Any] | Mapping[str, Any] | None = None,
        handler: Callable[[Any], Any] = fetch_all_handler,
        split_statements: bool | None = None,
        return_last: bool = True,
        show_return_value_in_logs: bool = False,
        database: str | None = None,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.conn_id = conn_id
        self.autocommit = autocommit
        self.parameters = parameters
        self.handler = handler
        self.split_statements = split_statements
        self.return_last = return_last
        self.show_return_value_in_logs = show_return_value_in_logs
        self.database = database
        self.hook_params = dict(hook_params or {})

    def get_db_hook(self) -> DbApiHook:
        """The database hook for ``conn_id`` (chosen by the connection's type)."""
        params = dict(self.hook_params)
        if self.database is not None:
            params["schema"] = self.database
        conn = BaseHook.get_connection(self.conn_id)
        hook = get_hook(conn, **params)
        if not isinstance(hook, DbApiHook):
            raise MillstreamError(
                f"task {self.task_id!r}: connection {self.conn_id!r} of type "
                f"{conn.conn_type!r} is not a database ({type(hook).__name__})"
            )
        return hook

    def execute(self, context: dict[str, Any]) -> Any:
        hook = self.get_db_hook()
        handler = self.handler if self.do_xcom_push else None
        result = hook.run(
            self.sql,
            autocommit=self.autocommit,
            parameters=self.parameters,
            handler=handler,
            split_statements=self.split_statements,
            return_last=self.return_last,
        )
        if handler is None:
            return None
        output = json_ready(result)
        if self.show_return_value_in_logs:
            log.info("Result of %s: %s", self.task_id, output)
        return output


def json_ready(value: Any) -> Any:
    """A database value as JSON: rows as lists, times as ISO text, decimals as numbers,
    bytes as base64, UUIDs and anything unknown as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [json_ready(item) for item in value]
    return str(value)


__all__ = ["SQLExecuteQueryOperator", "json_ready"]
