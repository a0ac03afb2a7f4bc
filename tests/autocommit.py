"""For tests that read and write a store one repository call at a time: each call made
outside ``store.transaction()`` runs in a transaction of its own.

Production code never gets this: a request, tick or command opens its one transaction
itself, and the SQL store refuses a repository call outside one (``StoreUsageError``).
Tests hand the raw store to the code under test, and use this view only for their own
set-up and assertions, so a caller that forgets its transaction still fails its test.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, cast

from millstream.store.interfaces import Store


class _Repo:
    def __init__(self, repo: object, view: AutoCommit) -> None:
        self._repo = repo
        self._view = view

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._repo, name)
        if not callable(target):
            return target
        view = self._view

        def call(*args: Any, **kwargs: Any) -> Any:
            with view.transaction():
                return target(*args, **kwargs)

        return cast(Callable[..., Any], call)


class AutoCommit:
    """A view of ``store`` whose repositories commit each call made outside a transaction."""

    def __init__(self, store: Store) -> None:
        self.raw = store
        self._repos: dict[str, _Repo] = {}

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.raw, name)
        if name.startswith("_") or callable(value) or isinstance(value, int | str | bool):
            return value
        if name in ("engine", "session"):
            return value
        repo = self._repos.get(name)
        if repo is None:
            repo = self._repos[name] = _Repo(value, self)
        return repo

    @contextlib.contextmanager
    def transaction(self, read_only: bool = False) -> Iterator[None]:
        with self.raw.transaction(read_only):
            yield


def autocommit(store: Any) -> Any:
    """``store`` seen through :class:`AutoCommit` (typed loosely, as tests use either)."""
    return AutoCommit(store)
