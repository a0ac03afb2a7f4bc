"""The guard that makes a store's repositories refuse calls made outside a transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from millstream.exceptions import StoreUsageError


class TransactionGuard:
    """A repository whose methods, called while ``is_open()`` is false (outside
    ``store.transaction()``), raise StoreUsageError instead of touching the store."""

    def __init__(self, repo: object, is_open: Callable[[], bool], where: str) -> None:
        self._repo = repo
        self._is_open = is_open
        self._where = where
        self._methods: dict[str, Callable[..., Any]] = {}

    def __getattr__(self, name: str) -> Any:
        method = self._methods.get(name)
        if method is not None:
            return method
        target = getattr(self._repo, name)
        if not callable(target):
            return target
        is_open = self._is_open
        repo_name = type(self._repo).__name__

        def call(*args: Any, **kwargs: Any) -> Any:
            if not is_open():
                raise StoreUsageError(
                    f"{repo_name}.{name}() was called outside store.transaction(): open "
                    "one around the request, tick or command that uses the store"
                )
            return target(*args, **kwargs)

        call.__name__ = name
        call.__doc__ = target.__doc__
        self._methods[name] = call
        return call

    def __repr__(self) -> str:
        return f"<{type(self._repo).__name__} over {self._where}>"
