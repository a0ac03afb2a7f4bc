"""Errors a page can end with (not found, bad input, forbidden), shown as pages, not JSON."""

from __future__ import annotations


class PageError(Exception):
    """Ends a page with ``status`` and a message saying what is wrong (shown escaped)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


__all__ = ["PageError"]
