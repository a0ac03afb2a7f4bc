"""Airflow 3's deadline callbacks: ``AsyncCallback`` and ``SyncCallback`` on millstream's
deadline alerts.

``DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=timedelta(minutes=15),
callback=AsyncCallback(SlackWebhookNotifier, kwargs={"text": "..."}))`` is millstream's own
:class:`~millstream.authoring.deadline.DeadlineAlert`; the callback object wraps what Airflow
names: a notifier class (made with ``kwargs``, then called with the miss's context) or a
function (called with ``context=`` and ``kwargs``; a coroutine function is run to its end),
given as the object or its dotted path.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from millstream.exceptions import DagDefinitionError


def _resolve(target: object, owner: str) -> Callable[..., Any]:
    if isinstance(target, str):
        module, _, name = target.rpartition(".")
        try:
            found = getattr(importlib.import_module(module), name) if module else None
        except (ImportError, AttributeError) as exc:
            raise DagDefinitionError(f"{owner}: cannot import {target!r}: {exc}") from None
        if found is None:
            raise DagDefinitionError(f"{owner}: {target!r} is not a dotted path")
        target = found
    if not callable(target):
        raise DagDefinitionError(f"{owner}: the callback must be callable (a notifier class "
                                 f"or a function), got {target!r}")
    return target


class _Callback:
    """A deadline alert's callback: ``callback(context)`` calls the wrapped target."""

    def __init__(self, callback_callable: Callable[..., Any] | str,
                 kwargs: Mapping[str, Any] | None = None) -> None:
        owner = type(self).__name__
        self.callback_callable = _resolve(callback_callable, owner)
        if kwargs is not None and not isinstance(kwargs, Mapping):
            raise DagDefinitionError(f"{owner}: kwargs must be a dict, got {kwargs!r}")
        self.kwargs = dict(kwargs or {})

    def __call__(self, context: Mapping[str, Any]) -> Any:
        target = self.callback_callable
        if isinstance(target, type):  # a notifier class: made with the kwargs, then called
            result = target(**self.kwargs)(context)
        else:
            result = target(context=context, **self.kwargs)
        if inspect.isawaitable(result):
            return asyncio.run(_awaited(result))
        return result

    def __repr__(self) -> str:
        name = getattr(self.callback_callable, "__qualname__", repr(self.callback_callable))
        return f"{type(self).__name__}({name}, kwargs={self.kwargs!r})"


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


class AsyncCallback(_Callback):
    """Airflow runs it on the triggerer; millstream calls it where deadline callbacks run."""


class SyncCallback(_Callback):
    """A callback run synchronously when the deadline is missed."""


__all__ = ["AsyncCallback", "SyncCallback"]
