"""The triggerer: one asyncio loop that waits on the triggers of deferred tasks."""

from millstream.triggerer.base import BaseTrigger, TriggerEvent

__all__ = ["BaseTrigger", "TriggerEvent"]
