"""One page of a long list, as the store's listing queries return it, and the list's length."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageRecord(Generic[T]):
    """The entries of one page, in list order, and how many entries the whole list has."""

    items: list[T]
    total: int


def check_window(limit: int | None, offset: int) -> None:
    """A negative ``limit`` or ``offset`` is a ValueError naming it (``limit`` None: no limit)."""
    if limit is not None and limit < 0:
        raise ValueError(f"a page's limit must be 0 or more, got {limit}")
    if offset < 0:
        raise ValueError(f"a page's offset must be 0 or more, got {offset}")


def known_total(found: int, limit: int | None, offset: int) -> int | None:
    """The list's length when one page tells it (the page is the end of a non-empty list,
    or the list is empty from its start), else None and it must be counted."""
    if limit is not None and found >= limit:
        return None
    if found or offset == 0:
        return offset + found
    return None


__all__ = ["PageRecord", "check_window", "known_total"]
