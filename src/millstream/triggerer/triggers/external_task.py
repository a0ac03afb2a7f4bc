"""Whether another DAG's runs (or some of their tasks) reached given states; its trigger.

:func:`check_external` is the one judgement ExternalTaskSensor makes, used both by its
pokes and by :class:`ExternalTaskTrigger` when it is deferred. It reads the metadata
store of this process (``millstream.store.current.current_store()``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from millstream.triggerer.base import BaseTrigger, TriggerEvent
from millstream.triggerer.clock import current_clock

if TYPE_CHECKING:
    from millstream.store.interfaces import Store
    from millstream.store.records import DagRunRecord

log = logging.getLogger("millstream.triggerer")


@dataclass(frozen=True)
class ExternalOutcome:
    """What one look at the external DAG found.

    ``status`` is ``"success"`` (every target is in an allowed state), ``"failed"`` (a
    target is in a failed state), ``"skipped"`` (a target is in a skipped state) or
    ``"waiting"``; ``message`` says which target and why.
    """

    status: str
    message: str


@dataclass(frozen=True)
class ExternalTarget:
    """What to watch: a whole DAG's runs, some of its tasks, or one of its task groups."""

    dag_id: str
    task_ids: tuple[str, ...] = ()
    task_group_id: str | None = None

    @property
    def whole_dag(self) -> bool:
        return not self.task_ids and self.task_group_id is None

    def describe(self) -> str:
        if self.task_group_id is not None:
            return f"task group {self.task_group_id!r} of DAG {self.dag_id!r}"
        if self.task_ids:
            return f"tasks {list(self.task_ids)} of DAG {self.dag_id!r}"
        return f"DAG {self.dag_id!r}"


def check_external(
    store: Store,
    target: ExternalTarget,
    logical_dates: Sequence[datetime],
    allowed: Collection[str],
    failed: Collection[str] = (),
    skipped: Collection[str] = (),
) -> ExternalOutcome:
    """Look at the target's runs for ``logical_dates`` once.

    A failed state anywhere wins over a skipped one, which wins over waiting; success
    needs every target, at every date, in an allowed state. A run not created yet (or a
    task not in it yet) is waited for.
    """
    outcomes: list[ExternalOutcome] = []
    with store.transaction():
        for moment in logical_dates:
            run = store.runs.find(target.dag_id, moment)
            if run is None:
                outcomes.append(ExternalOutcome(
                    "waiting", f"DAG {target.dag_id!r} has no run for logical date "
                    f"{moment.isoformat()} yet"))
            elif target.whole_dag:
                outcomes.append(_judge(f"run {run.run_id!r} of DAG {target.dag_id!r}",
                                       [run.state.value], allowed, failed, skipped))
            else:
                outcomes.extend(_judge_tasks(store, target, run, allowed, failed, skipped))
    for status in ("failed", "skipped", "waiting"):
        for outcome in outcomes:
            if outcome.status == status:
                return outcome
    return ExternalOutcome("success", f"{target.describe()} reached {sorted(allowed)} at "
                           f"{', '.join(m.isoformat() for m in logical_dates)}")


def _judge_tasks(
    store: Store, target: ExternalTarget, run: DagRunRecord, allowed: Collection[str],
    failed: Collection[str], skipped: Collection[str],
) -> list[ExternalOutcome]:
    where = f"run {run.run_id!r} of DAG {target.dag_id!r}"
    states: dict[str, list[str]] = {}
    if target.task_group_id is not None:
        prefix = f"{target.task_group_id}."
        for ti in store.task_instances.for_run(target.dag_id, run.run_id):
            if ti.task_id.startswith(prefix):
                states.setdefault(ti.task_id, []).append(ti.state.value)
        if not states:
            return [ExternalOutcome(
                "waiting", f"{where} has no task of group {target.task_group_id!r}")]
    else:
        for ti in store.task_instances.for_run(target.dag_id, run.run_id, target.task_ids):
            states.setdefault(ti.task_id, []).append(ti.state.value)
    outcomes = []
    for task_id in target.task_ids or sorted(states):
        found = states.get(task_id)
        if not found:
            outcomes.append(ExternalOutcome("waiting", f"{where} has no task {task_id!r}"))
            continue
        # a mapped task has an instance per map index: all must be allowed, one failure fails
        outcomes.append(_judge(f"task {task_id!r} in {where}", found, allowed, failed, skipped))
    return outcomes


def _judge(
    what: str, states: Sequence[str], allowed: Collection[str], failed: Collection[str],
    skipped: Collection[str],
) -> ExternalOutcome:
    for state in states:
        if state in failed:
            return ExternalOutcome(
                "failed", f"{what} is {state!r}, one of failed_states {sorted(failed)}")
    for state in states:
        if state in skipped:
            return ExternalOutcome(
                "skipped", f"{what} is {state!r}, one of skipped_states {sorted(skipped)}")
    waiting = [s for s in states if s not in allowed]
    if waiting:
        return ExternalOutcome(
            "waiting", f"{what} is {waiting[0]!r}, not yet one of {sorted(allowed)}")
    return ExternalOutcome("success", f"{what} is {states[0]!r}")


class ExternalTaskTrigger(BaseTrigger):
    """Looks at another DAG's runs every ``poke_interval`` seconds; fires with
    ``{"status": "success" | "failed" | "skipped", "message": ...}`` once the answer is
    no longer "waiting". The deferred form of ExternalTaskSensor."""

    def __init__(
        self,
        external_dag_id: str,
        logical_dates: Sequence[datetime],
        allowed_states: Sequence[str],
        failed_states: Sequence[str] = (),
        skipped_states: Sequence[str] = (),
        external_task_ids: Sequence[str] = (),
        external_task_group_id: str | None = None,
        poke_interval: float = 60.0,
    ) -> None:
        super().__init__()
        if not logical_dates:
            raise ValueError("ExternalTaskTrigger: logical_dates must not be empty")
        self.target = ExternalTarget(external_dag_id, tuple(external_task_ids),
                                     external_task_group_id)
        self.logical_dates = list(logical_dates)
        self.allowed_states = list(allowed_states)
        self.failed_states = list(failed_states)
        self.skipped_states = list(skipped_states)
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("millstream.triggerer.triggers.external_task.ExternalTaskTrigger", {
            "external_dag_id": self.target.dag_id,
            "external_task_ids": list(self.target.task_ids),
            "external_task_group_id": self.target.task_group_id,
            "logical_dates": self.logical_dates,
            "allowed_states": self.allowed_states,
            "failed_states": self.failed_states,
            "skipped_states": self.skipped_states,
            "poke_interval": self.poke_interval,
        })

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from millstream.store.current import metadata_transaction

        clock = current_clock()
        while True:
            # One short indexed read per look; the store belongs to the loop's thread,
            # so it is read here rather than from a worker thread.
            with metadata_transaction() as store:
                outcome = check_external(store, self.target, self.logical_dates,
                                         self.allowed_states, self.failed_states,
                                         self.skipped_states)
            if outcome.status != "waiting":
                yield TriggerEvent({"status": outcome.status, "message": outcome.message})
                return
            log.info("Waiting: %s", outcome.message)
            await clock.sleep_until(clock.now() + timedelta(seconds=self.poke_interval))
