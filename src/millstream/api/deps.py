"""What routes get injected: the settings, a store for the request, paging, the current time.

A SQL store (like its session) belongs to one thread, so each request gets a store of its
own over the one engine of the application, closed when the request ends.
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


def get_store(request: Request) -> Iterator[Store]:
    """A store for this request (a dependency): one per request, closed after it."""
    with app_context(request).open_store() as store:
        yield store


StoreDep = Annotated[Store, Depends(get_store)]
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
