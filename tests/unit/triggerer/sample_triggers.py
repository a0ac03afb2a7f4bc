"""Triggers for the tests, importable by path as stored triggers must be."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

from millstream.triggerer.base import BaseTrigger, TriggerEvent

PATH = "tests.unit.triggerer.sample_triggers"

GATES: dict[str, threading.Event] = {}
"""Gates by name: a GateTrigger fires once the test opens (sets) its gate."""
CLEANED: list[str] = []
"""Names of the triggers whose cleanup() ran, in order."""


def gate(name: str) -> threading.Event:
    return GATES.setdefault(name, threading.Event())


class GateTrigger(BaseTrigger):
    """Fires with ``{"name": name, **extra}`` once the gate ``name`` is open."""

    def __init__(self, name: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.name = name
        self.extra = extra or {}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{PATH}.GateTrigger", {"name": self.name, "extra": self.extra})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        opened = gate(self.name)
        while not opened.is_set():
            await asyncio.sleep(0.005)
        yield TriggerEvent({"name": self.name, **self.extra})

    async def cleanup(self) -> None:
        CLEANED.append(self.name)


class RaisingTrigger(BaseTrigger):
    """Raises ``RuntimeError(message)`` as soon as it runs."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{PATH}.RaisingTrigger", {"message": self.message})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        await asyncio.sleep(0)
        raise RuntimeError(self.message)
        yield TriggerEvent(None)  # pragma: no cover - makes this an async generator


class SilentTrigger(BaseTrigger):
    """Ends without yielding any event."""

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{PATH}.SilentTrigger", {})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        return
        yield TriggerEvent(None)  # pragma: no cover


class UnstorableEventTrigger(BaseTrigger):
    """Fires with a payload that is not JSON."""

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{PATH}.UnstorableEventTrigger", {})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        yield TriggerEvent({"handle": object()})
