"""Built-in triggers: time (DateTimeTrigger, TimeDeltaTrigger)."""

from millstream.triggerer.triggers.time import DateTimeTrigger, TimeDeltaTrigger

__all__ = ["DateTimeTrigger", "TimeDeltaTrigger"]
