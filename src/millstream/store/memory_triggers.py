"""In-memory triggers and task reschedules, for dag.test() and unit tests."""

from __future__ import annotations

import builtins
from dataclasses import replace
from datetime import datetime
from typing import Any

from millstream.model.states import TaskState
from millstream.store.interfaces import TaskInstanceRepo
from millstream.store.memory_journal import Journal, JournaledRepo
from millstream.store.records import TaskInstanceKey, TaskInstanceRecord
from millstream.store.trigger_records import TaskRescheduleRecord, TriggerRecord


class MemoryTriggerRepo(JournaledRepo):
    """Triggers in a dict by id; the deferred instances are read from ``task_instances``."""

    STATE = ("_triggers", "_next_id")

    def __init__(self, task_instances: TaskInstanceRepo, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._task_instances = task_instances
        self._triggers: dict[int, TriggerRecord] = {}
        self._next_id = 1

    def add(self, classpath: str, kwargs: dict[str, Any], now: datetime) -> int:
        self._changing()
        trigger_id = self._next_id
        self._next_id += 1
        self._triggers[trigger_id] = TriggerRecord(trigger_id, classpath, dict(kwargs), now)
        return trigger_id

    def get(self, trigger_id: int) -> TriggerRecord | None:
        return self._triggers.get(trigger_id)

    def list(self) -> builtins.list[TriggerRecord]:
        return [self._triggers[i] for i in sorted(self._triggers)]

    def assign(self, triggerer_id: str, capacity: int, now: datetime,
               stale_before: datetime) -> builtins.list[TriggerRecord]:
        self._changing()
        owned = sum(t.triggerer_id == triggerer_id for t in self._triggers.values())
        for trigger_id in sorted(self._triggers):
            if owned >= capacity:
                break
            trigger = self._triggers[trigger_id]
            if trigger.triggerer_id is None or (
                trigger.triggerer_id != triggerer_id
                and (trigger.heartbeat_at is None or trigger.heartbeat_at < stale_before)
            ):
                self._triggers[trigger_id] = replace(trigger, triggerer_id=triggerer_id,
                                                     heartbeat_at=now)
                owned += 1
        return [t for t in self.list() if t.triggerer_id == triggerer_id]

    def heartbeat(self, triggerer_id: str, now: datetime) -> None:
        self._changing()
        for trigger_id, trigger in self._triggers.items():
            if trigger.triggerer_id == triggerer_id:
                self._triggers[trigger_id] = replace(trigger, heartbeat_at=now)

    def owners(self) -> builtins.list[str]:
        return sorted({t.triggerer_id for t in self._triggers.values() if t.triggerer_id})

    def release(self, triggerer_id: str) -> int:
        self._changing()
        released = 0
        for trigger_id, trigger in self._triggers.items():
            if trigger.triggerer_id == triggerer_id:
                self._triggers[trigger_id] = replace(trigger, triggerer_id=None,
                                                     heartbeat_at=None)
                released += 1
        return released

    def delete(self, trigger_id: int) -> bool:
        self._changing()
        return self._triggers.pop(trigger_id, None) is not None

    def clean_unused(self) -> int:
        used = {ti.trigger_id for ti in self._task_instances.in_states([TaskState.DEFERRED])}
        self._changing()
        unused = [i for i in self._triggers if i not in used]
        for trigger_id in unused:
            del self._triggers[trigger_id]
        return len(unused)

    def waiting_on(self, trigger_id: int) -> builtins.list[TaskInstanceRecord]:
        return [ti for ti in self._task_instances.in_states([TaskState.DEFERRED])
                if ti.trigger_id == trigger_id]

    def timed_out(self, now: datetime) -> builtins.list[TaskInstanceRecord]:
        return [ti for ti in self._task_instances.in_states([TaskState.DEFERRED])
                if ti.trigger_timeout is not None and ti.trigger_timeout < now]


class MemoryTaskRescheduleRepo(JournaledRepo):
    """Reschedules in a list per task instance."""

    STATE = ("_records",)

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._records: dict[TaskInstanceKey, list[TaskRescheduleRecord]] = {}

    def add(self, record: TaskRescheduleRecord) -> None:
        self._changing()
        self._records.setdefault(record.key, []).append(record)

    def for_try(self, key: TaskInstanceKey, try_number: int) -> list[TaskRescheduleRecord]:
        return [r for r in self._records.get(key, []) if r.try_number == try_number]

    def forget_run(self, dag_id: str, run_id: str) -> None:
        """Drop a deleted run's reschedules."""
        self._changing()
        for key in [k for k in self._records if (k.dag_id, k.run_id) == (dag_id, run_id)]:
            del self._records[key]
