"""SqlSensor: wait until a query's first row says yes, through a database connection's hook."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, ClassVar

from millstream.exceptions import DagDefinitionError, TaskFailedNoRetry
from millstream.sensors.base import BaseSensorOperator

log = logging.getLogger("millstream.task")


class SqlSensorFailure(TaskFailedNoRetry):
    """The query answered with no rows under ``fail_on_empty``, or met ``failure``."""


class SqlSensor(BaseSensorOperator):
    """Runs ``sql`` at each poke until the first cell of its first row is truthy.

    :param conn_id: a database connection (any type served by a DbApiHook: postgres,
        sqlite ...).
    :param sql: the query, templated; a path ending in ``.sql`` is read as a template.
    :param parameters: query parameters, in the driver's style (``%s`` for PostgreSQL,
        ``?`` for SQLite), templated.
    :param success: ``success(value) -> bool`` decides instead of ``bool(value)``.
    :param failure: ``failure(value) -> bool``; True fails the sensor at once.
    :param selector: picks the value from the first row (default: its first cell).
    :param fail_on_empty: no rows fails the sensor instead of poking again.
    :param hook_params: keyword arguments for the hook (e.g. ``{"schema": "sales"}``).
    """

    template_fields: ClassVar[tuple[str, ...]] = ("sql", "parameters", "hook_params")
    template_ext: ClassVar[tuple[str, ...]] = (".sql",)
    ui_color: ClassVar[str] = "#7c7287"

    def __init__(
        self,
        *,
        conn_id: str,
        sql: str,
        parameters: Sequence[Any] | Mapping[str, Any] | None = None,
        success: Callable[[Any], Any] | None = None,
        failure: Callable[[Any], Any] | None = None,
        selector: Callable[[Sequence[Any]], Any] = itemgetter(0),
        fail_on_empty: bool = False,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = (f"DAG {self.dag_id!r}, task {self.task_id!r}" if self.dag
                 else f"task {self.task_id!r}")
        if not isinstance(conn_id, str) or not conn_id:
            raise DagDefinitionError(f"{where}: conn_id must be a non-empty string")
        if not isinstance(sql, str) or not sql.strip():
            raise DagDefinitionError(f"{where}: sql must be a non-empty string")
        for name, value in (("success", success), ("failure", failure),
                            ("selector", selector)):
            if value is not None and not callable(value):
                raise DagDefinitionError(f"{where}: {name} must be callable, got {value!r}")
        self.conn_id = conn_id
        self.sql = sql
        self.parameters = parameters
        self.success = success
        self.failure = failure
        self.selector = selector
        self.fail_on_empty = fail_on_empty
        self.hook_params = dict(hook_params or {})

    def get_hook(self) -> Any:
        """The database hook of ``conn_id``; a connection of another kind is an error."""
        from millstream.hooks.base import BaseHook
        from millstream.hooks.dbapi import DbApiHook

        hook = BaseHook.get_hook(self.conn_id, **self.hook_params)
        if not isinstance(hook, DbApiHook):
            raise TypeError(
                f"task {self.task_id!r}: connection {self.conn_id!r} is served by "
                f"{type(hook).__name__}, which runs no SQL; SqlSensor needs a database "
                "connection (postgres, sqlite ...)")
        return hook

    def poke(self, context: dict[str, Any]) -> bool:
        log.info("Poking with SQL on %s: %s (parameters %s)", self.conn_id, self.sql,
                 self.parameters)
        records = self.get_hook().get_records(self.sql, self.parameters)
        if not records:
            if self.fail_on_empty:
                raise SqlSensorFailure(
                    f"task {self.task_id!r}: the query returned no rows (fail_on_empty)")
            log.info("No rows yet")
            return False
        value = self.selector(records[0])
        if self.failure is not None and self.failure(value):
            raise SqlSensorFailure(
                f"task {self.task_id!r}: failure criteria met: failure({value!r}) is true")
        met = bool(self.success(value)) if self.success is not None else bool(value)
        log.info("Query answered %r: %s", value, "done" if met else "not yet")
        return met
