"""Transactions of the in-memory store: what a transaction changes is saved before it
changes (a repository's whole state, or for the busy repositories each entry written) and
put back if the transaction raises.

The memory store keeps the SQL store's rules: a transaction commits when its block ends
and rolls back everything when it raises, a transaction inside another joins it, and a
repository of the store used outside any transaction raises :class:`StoreUsageError`.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, MutableMapping
from typing import Any, ClassVar, TypeVar, cast

from millstream.exceptions import StoreUsageError
from millstream.store.transaction_guard import TransactionGuard

_R = TypeVar("_R")
_MISSING = object()


def copy_containers(value: Any) -> Any:
    """A copy of the dicts, lists and sets in ``value`` (at every depth); anything else,
    immutable records included, is shared."""
    if isinstance(value, dict):
        copied = copy.copy(value)  # keeps a defaultdict's factory
        for key, item in value.items():
            if isinstance(item, dict | list | set):
                copied[key] = copy_containers(item)
        return copied
    if isinstance(value, list):
        return [copy_containers(item) if isinstance(item, dict | list | set) else item
                for item in value]
    if isinstance(value, set):
        return set(value)
    return value


class Journal:
    """The transaction of one memory store, and the saved state of what it changed."""

    def __init__(self) -> None:
        self.depth = 0
        self.read_only = False
        self._saved: dict[int, tuple[JournaledRepo, dict[str, Any]]] = {}
        self._undo: list[tuple[MutableMapping[Any, Any], Any, Any]] = []

    @property
    def in_transaction(self) -> bool:
        return self.depth > 0

    @contextlib.contextmanager
    def transaction(self, read_only: bool = False) -> Iterator[None]:
        """Commit at the end, roll back if the block raises; nested calls join the outer one.
        ``read_only``: a change in it raises StoreUsageError."""
        if self.depth:
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
            return
        self.depth = 1
        self.read_only = read_only
        try:
            yield
        except BaseException:
            self._roll_back()
            raise
        finally:
            self.depth = 0
            self.read_only = False
            self._saved.clear()
            self._undo.clear()

    def before_change(self, repo: JournaledRepo) -> None:
        """Save ``repo``'s state, once per transaction, before it changes."""
        self._refuse_in_read_only()
        if self.depth and id(repo) not in self._saved:
            self._saved[id(repo)] = (repo, repo.snapshot())

    def remember(self, mapping: MutableMapping[Any, Any], key: Any, copy: bool = False) -> None:
        """Save what ``mapping`` holds at ``key`` (or that it holds nothing) before it
        changes, to put it back on rollback. A list or dict held there that is about to be
        changed in place is saved as a copy (``copy``); one that is only replaced or
        removed is saved as itself, so that the saved entries of its own still apply."""
        self._refuse_in_read_only()
        if self.depth:
            old = mapping.get(key, _MISSING)
            self._undo.append((mapping, key, copy_containers(old) if copy else old))

    def _refuse_in_read_only(self) -> None:
        if self.read_only:
            raise StoreUsageError("a read-only store transaction cannot write; "
                                  "use store.transaction() to change data")

    def _roll_back(self) -> None:
        for repo, state in self._saved.values():
            repo.restore(state)
        for mapping, key, old in reversed(self._undo):
            if old is _MISSING:
                mapping.pop(key, None)
            else:
                mapping[key] = old


class JournaledRepo:
    """A memory repository whose state (the attributes named in ``STATE``) a transaction
    saves before the first change and puts back on rollback.

    Every method that changes the state calls :meth:`_changing` first.
    """

    STATE: ClassVar[tuple[str, ...]] = ()

    def __init__(self, journal: Journal | None = None) -> None:
        # A repository made on its own (outside a store) has no transactions to join.
        self._journal = journal if journal is not None else Journal()

    def _changing(self) -> None:
        self._journal.before_change(self)

    def _remember(self, mapping: MutableMapping[Any, Any], key: Any, copy: bool = False) -> None:
        """For a repository with many entries: save one entry before it changes, instead of
        the whole state (such a repository leaves ``STATE`` empty); see Journal.remember."""
        self._journal.remember(mapping, key, copy)

    def snapshot(self) -> dict[str, Any]:
        """A copy of the state, independent of later changes."""
        return {name: copy_containers(getattr(self, name)) for name in self.STATE}

    def restore(self, state: dict[str, Any]) -> None:
        """Put back a state taken by :meth:`snapshot`."""
        for name, value in state.items():
            setattr(self, name, value)


def guarded(repo: _R, journal: Journal) -> _R:
    """``repo`` seen through a guard that raises StoreUsageError for a call made outside
    the journal's transaction, as the SQL store does."""
    return cast(_R, TransactionGuard(repo, lambda: journal.in_transaction, "memory"))
