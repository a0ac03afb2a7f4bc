"""The trigger API: ``BaseTrigger`` (an async waiter the triggerer runs) and ``TriggerEvent``.

A deferrable task hands a trigger to the triggerer with ``self.defer(trigger=...)`` and
gives up its worker slot. The trigger is stored as ``serialize()`` returns it (an import
path and JSON-able keyword arguments), so the triggerer — perhaps another process, after
a restart — can build it again with ``cls(**kwargs)``. Its ``run()`` is awaited on the
triggerer's one event loop, next to hundreds of others: it must never block (use
``await asyncio.sleep``, async clients, or ``asyncio.to_thread`` for blocking calls).
The first event it yields resumes the task; ``cleanup()`` is awaited when the trigger
stops, whether it fired, failed or was cancelled.

Writing one::

    class FileTrigger(BaseTrigger):
        def __init__(self, filepath: str, poll_interval: float = 5.0) -> None:
            super().__init__()
            self.filepath = filepath
            self.poll_interval = poll_interval

        def serialize(self) -> tuple[str, dict[str, Any]]:
            return ("mypackage.triggers.FileTrigger",
                    {"filepath": self.filepath, "poll_interval": self.poll_interval})

        async def run(self) -> AsyncIterator[TriggerEvent]:
            while not os.path.exists(self.filepath):
                await asyncio.sleep(self.poll_interval)
            yield TriggerEvent({"status": "success", "filepath": self.filepath})
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from millstream.triggerer.serde import decode, encode

__all__ = ["BaseTrigger", "TriggerEvent", "load_trigger", "serialize_trigger"]


@dataclass(frozen=True)
class TriggerEvent:
    """What a trigger yields when the deferred task should resume.

    ``payload`` reaches the task's resume method as its ``event`` argument. It is
    stored between the triggerer and the worker, so it must be JSON, datetimes or
    timedeltas (in lists and dicts as deep as needed).
    """

    payload: Any = None


class BaseTrigger(abc.ABC):
    """An asynchronous condition the triggerer waits on for a deferred task.

    Subclasses implement :meth:`serialize` and :meth:`run`, and may implement
    :meth:`cleanup`. Keep the constructor cheap and free of I/O: the triggerer builds
    the trigger again from its serialized form after every restart.
    """

    def __init__(self, **kwargs: Any) -> None:
        # Set by the triggerer for its logs; None while the trigger is only being defined.
        self.trigger_id: int | None = None

    @abc.abstractmethod
    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The trigger's import path and the keyword arguments that rebuild it."""

    @abc.abstractmethod
    def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait for the condition, then ``yield TriggerEvent(payload)``.

        Write it as ``async def run(self): ... yield TriggerEvent(...)``. Raising fails
        the deferred task (its error and traceback are recorded on the task); only the
        first event counts.
        """

    async def cleanup(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Release what :meth:`run` held; awaited however the trigger stopped."""

    def __repr__(self) -> str:
        classpath, kwargs = self.serialize()
        arguments = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        return f"<{classpath.rsplit('.', 1)[-1]}({arguments})>"


def serialize_trigger(trigger: object) -> tuple[str, dict[str, Any]]:
    """The trigger's import path and its kwargs as JSON-ready data, checked to load back."""
    if not isinstance(trigger, BaseTrigger):
        raise TypeError(f"expected a BaseTrigger, got {type(trigger).__name__}: {trigger!r}")
    classpath, kwargs = trigger.serialize()
    name = type(trigger).__name__
    if not isinstance(classpath, str) or "." not in classpath:
        raise TypeError(f"{name}.serialize() must return an import path like "
                        f"'package.module.Class', got {classpath!r}")
    if not isinstance(kwargs, dict):
        raise TypeError(f"{name}.serialize() must return a dict of kwargs, "
                        f"got {type(kwargs).__name__}")
    return classpath, encode(kwargs, f"{name}.serialize() kwargs")


def load_trigger(classpath: str, kwargs: dict[str, Any]) -> BaseTrigger:
    """Build the trigger :func:`serialize_trigger` described (kwargs as stored)."""
    module_name, _, class_name = classpath.rpartition(".")
    if not module_name:
        raise ImportError(f"trigger path {classpath!r} names no module")
    module = importlib.import_module(module_name)
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseTrigger)):
        raise ImportError(f"{classpath!r} is not a BaseTrigger subclass")
    trigger = cls(**decode(kwargs))
    return trigger
