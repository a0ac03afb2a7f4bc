"""What routes get injected: the settings, a store for the request, paging, the current time.

A SQL store (like its session) belongs to one thread, so each request gets a store of its
own over the one engine of the application, closed when the request ends. The request is
one transaction: it opens before the route runs, commits when the route returns (before
the response is sent, so a failed commit is a 500, not a success that did not happen) and
rolls back if the route raises. A GET or HEAD request's transaction is read-only. A
streaming response runs after that transaction has ended; what it reads meanwhile, it
reads in short transactions of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from millstream.config import Settings
from millstream.store.interfaces import Store

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

StoreOpener = Callable[[], contextlib.AbstractContextManager[Store]]


@dataclass
class AppContext:
    """What every request of one application shares: settings, a way to open a store,
    and the key that signs CSRF tokens."""

    settings: Settings
    open_store: StoreOpener
    secret_key: bytes
    close: Callable[[], None] = lambda: None


def app_context(request: Request) -> AppContext:
    """The context of the application serving ``request``."""
    context: AppContext = request.app.state.millstream
    return context


def get_settings(request: Request) -> Settings:
    """The application's settings."""
    return app_context(request).settings


READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
"""Requests that change nothing: their transaction is read-only, so on SQLite a page
being drawn holds no write lock and the scheduler goes on meanwhile."""


def get_store(request: Request) -> Iterator[Store]:
    """A store for this request, inside the request's one transaction (a dependency)."""
    read_only = request.method in READ_ONLY_METHODS
    with app_context(request).open_store() as store, store.transaction(read_only):
        yield store


StoreDep = Annotated[Store, Depends(get_store, scope="function")]
"""The request's store; every route and dependency of a request shares the same one."""
SettingsDep = Annotated[Settings, Depends(get_settings)]


@dataclass(frozen=True)
class Page:
    """Which slice of a list to return."""

    limit: int
    offset: int

    def slice(self, items: list[Any]) -> list[Any]:
        return items[self.offset:self.offset + self.limit]


def paging(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE,
                                description="How many entries to return.")] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, description="How many entries to skip.")] = 0,
) -> Page:
    """The ``limit`` and ``offset`` query parameters of every list."""
    return Page(limit, offset)


PageDep = Annotated[Page, Depends(paging)]


def utcnow() -> datetime:
    return datetime.now(UTC)
