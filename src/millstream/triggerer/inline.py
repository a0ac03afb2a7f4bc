"""dag.test()'s triggerer: the stored triggers run in this thread until one of them fires.

The same outcomes as the triggerer process (:mod:`millstream.triggerer.outcomes`), without
a thread or a store of its own. Under dag.test's skipping clock, time triggers fire at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from millstream.model.states import TaskState
from millstream.triggerer.base import load_trigger
from millstream.triggerer.loop import watch_trigger
from millstream.triggerer.outcomes import TriggerOutcome, apply_outcome, expire_deferrals

if TYPE_CHECKING:
    from millstream.store.interfaces import Store
    from millstream.store.trigger_records import TriggerRecord


class InlineTriggerRunner:
    """Runs the store's triggers synchronously, one round at a time, for dag.test()."""

    def __init__(self, store: Store, now: Callable[[], datetime]) -> None:
        self.store = store
        self.now = now

    def run_until_event(self, until: datetime | None = None) -> bool:
        """Run every stored trigger until the first ones fire, a deferral times out, or
        ``until`` comes; record what happened. Returns whether any task instance moved."""
        store = self.store
        with store.transaction():
            if expire_deferrals(store, self.now()):
                store.triggers.clean_unused()
                return True
            store.triggers.clean_unused()
            triggers = store.triggers.list()
            deadlines = [ti.trigger_timeout for ti in store.task_instances.in_states(
                [TaskState.DEFERRED]) if ti.trigger_timeout is not None]
        if not triggers:
            return False
        if until is not None:
            deadlines.append(until)
        deadline = min(deadlines, default=None)
        outcomes = asyncio.run(self._first_outcomes(triggers, deadline))
        moved = 0
        with store.transaction():
            # A deferral whose timeout passed first (a skipping clock jumps) fails; its
            # trigger's late event then finds nobody waiting.
            moved += expire_deferrals(store, self.now())
            for outcome in outcomes:
                moved += apply_outcome(store, outcome)
            store.triggers.clean_unused()
        return moved > 0

    async def _first_outcomes(self, triggers: list[TriggerRecord],
                              deadline: datetime | None) -> list[TriggerOutcome]:
        tasks: list[asyncio.Task[TriggerOutcome]] = []
        outcomes: list[TriggerOutcome] = []
        for record in triggers:
            try:
                trigger = load_trigger(record.classpath, record.kwargs)
            except Exception as exc:
                outcomes.append(TriggerOutcome(
                    record.id, error=f"cannot build {record.classpath}: "
                                     f"{type(exc).__name__}: {exc}"))
                continue
            trigger.trigger_id = record.id
            tasks.append(asyncio.ensure_future(watch_trigger(record.id, trigger)))
        if outcomes or not tasks:
            await _cancel(tasks)
            return outcomes
        timeout = None if deadline is None else max(
            0.0, (deadline - self.now()).total_seconds())
        done, pending = await asyncio.wait(tasks, timeout=timeout,
                                           return_when=asyncio.FIRST_COMPLETED)
        await _cancel(pending)
        return [task.result() for task in tasks if task in done]


async def _cancel(tasks: Iterable[asyncio.Task[TriggerOutcome]]) -> None:
    """Cancel the triggers still waiting; each one's cleanup runs before this returns."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError):
            await task
