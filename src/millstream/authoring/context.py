"""Access to the running task's context from anywhere inside that task."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

_current_context: ContextVar[dict[str, Any] | None] = ContextVar("millstream_context", default=None)


def get_current_context() -> dict[str, Any]:
    """The context of the task that is running now; an error outside a running task."""
    context = _current_context.get()
    if context is None:
        raise RuntimeError("get_current_context() was called outside a running task")
    return context


@contextlib.contextmanager
def set_current_context(context: dict[str, Any]) -> Iterator[None]:
    """Make ``context`` what get_current_context() returns while the block runs."""
    token = _current_context.set(context)
    try:
        yield
    finally:
        _current_context.reset(token)
