"""BaseHook: how a hook finds its connection, and which hook class serves a connection type."""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any, ClassVar

from millstream.exceptions import MillstreamError

if TYPE_CHECKING:
    from millstream.secrets import Connection

log = logging.getLogger("millstream.hooks")

# conn_type -> "module:Class"; imported on first use so that `import millstream.hooks`
# does not pull in psycopg or httpx
_HOOKS_BY_CONN_TYPE: dict[str, str] = {
    "postgres": "millstream.hooks.postgres:PostgresHook",
    "postgresql": "millstream.hooks.postgres:PostgresHook",
    "sqlite": "millstream.hooks.sqlite:SqliteHook",
    "http": "millstream.hooks.http:HttpHook",
    "https": "millstream.hooks.http:HttpHook",
}


class HookError(MillstreamError):
    """A hook cannot be built or used as asked; the message names the connection."""


class BaseHook:
    """Base class of every hook: it reaches connections through ``millstream.secrets``.

    A subclass names the keyword argument that carries its connection id
    (``conn_name_attr``, e.g. ``postgres_conn_id``) and that argument's default
    (``default_conn_name``). ``self.connection`` is looked up on first use and kept.
    """

    conn_name_attr: ClassVar[str] = "conn_id"
    default_conn_name: ClassVar[str] = "default"
    conn_type: ClassVar[str] = ""
    hook_name: ClassVar[str] = "Hook"

    _connection: Connection | None = None

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        """The connection ``conn_id`` (env var, secrets file, then the metadata DB)."""
        from millstream.secrets import get_connection

        return get_connection(conn_id)

    @classmethod
    def get_hook(cls, conn_id: str, **hook_params: Any) -> BaseHook:
        """A hook of the class registered for the type of connection ``conn_id``."""
        return get_hook(cls.get_connection(conn_id), **hook_params)

    @property
    def conn_id(self) -> str:
        return str(getattr(self, self.conn_name_attr, None) or self.default_conn_name)

    @property
    def log(self) -> logging.Logger:
        """A logger for the hook's messages (``self.log.info(...)``), in the task's log."""
        return logging.getLogger(f"millstream.hooks.{type(self).__name__}")

    @property
    def connection(self) -> Connection:
        """This hook's connection, looked up once."""
        if self._connection is None:
            self._connection = self.get_connection(self.conn_id)
        return self._connection

    @connection.setter
    def connection(self, value: Connection) -> None:
        self._connection = value

    def get_conn(self) -> Any:
        """A client (DB-API connection, HTTP client ...) for the connection."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_conn()")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.conn_id!r}>"


def hook_class_for(conn_type: str) -> type[BaseHook]:
    """The hook class that serves connections of ``conn_type``."""
    target = _HOOKS_BY_CONN_TYPE.get((conn_type or "").lower().replace("-", "_"))
    if target is None:
        known = ", ".join(sorted(_HOOKS_BY_CONN_TYPE))
        raise HookError(f"no hook for connection type {conn_type!r}; known types: {known}")
    module_name, _, class_name = target.partition(":")
    hook_class: type[BaseHook] = getattr(importlib.import_module(module_name), class_name)
    return hook_class


def get_hook(conn: Connection, **hook_params: Any) -> BaseHook:
    """A hook for ``conn``, of the class registered for its ``conn_type``.

    ``hook_params`` go to the hook's constructor (e.g. ``schema=`` for a database hook).
    """
    try:
        hook_class = hook_class_for(conn.conn_type or "")
    except HookError as exc:
        raise HookError(f"connection {conn.conn_id!r}: {exc}") from None
    hook = hook_class(**{hook_class.conn_name_attr: conn.conn_id}, **hook_params)
    hook.connection = conn
    return hook


def register_hook(conn_type: str, target: str) -> None:
    """Serve connections of ``conn_type`` with ``target`` (``"package.module:HookClass"``)."""
    if ":" not in target:
        raise ValueError(f"hook target {target!r} must look like 'package.module:HookClass'")
    _HOOKS_BY_CONN_TYPE[conn_type.lower()] = target
