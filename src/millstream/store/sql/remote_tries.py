"""Tries run by remote workers: their start, heartbeats and outcome, each a compare-and-set.

A worker of the Celery executor receives only a try's identifiers (its key, try number
and step id). Every write it makes names all of them, so a message delivered twice, or
delivered after the scheduler gave the try up and queued another, changes nothing:

- the start is ``queued -> running`` only for that try number and step, in one statement
  that also returns the instance;
- a heartbeat touches only a running instance still on that try and step (and records the
  process id of its try), and tells the worker which of its tries are no longer wanted
  (cleared, marked, timed out);
- the outcome is recorded with the instance row locked (``FOR UPDATE``) after checking it
  is still on that try and step, queued or running.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, bindparam, select, update

from millstream.model.states import TaskState
from millstream.store.records import TaskInstanceKey, TaskInstanceRecord
from millstream.store.sql.common import checked_state, execute, rowcount
from millstream.store.sql.convert import TI_COLUMNS, TI_TABLE, row_to_ti

if TYPE_CHECKING:
    from millstream.store.sql.store import SqlStore

_TI = TI_TABLE.c


@dataclass(frozen=True, slots=True)
class TryRef:
    """One step of one try of one task instance: what a worker's message names."""

    key: TaskInstanceKey
    try_number: int
    step_id: str | None

    def describe(self) -> str:
        """For messages: the instance, its try and step."""
        return f"try {self.try_number} (step {self.step_id}) of {self.key}"


def _matches_try() -> ColumnElement[bool]:
    return and_(
        _TI.dag_id == bindparam("k_dag_id"), _TI.run_id == bindparam("k_run_id"),
        _TI.task_id == bindparam("k_task_id"), _TI.map_index == bindparam("k_map_index"),
        _TI.try_number == bindparam("k_try_number"), _TI.step_id == bindparam("k_step_id"),
    )


def _params(ref: TryRef) -> dict[str, object]:
    key = ref.key
    return {"k_dag_id": key.dag_id, "k_run_id": key.run_id, "k_task_id": key.task_id,
            "k_map_index": key.map_index, "k_try_number": ref.try_number,
            "k_step_id": ref.step_id}


_NOW = bindparam("v_now", type_=_TI.heartbeat_at.type)
_START = (update(TI_TABLE)
          .where(_matches_try(), checked_state(_TI.state, TaskState.QUEUED.value))
          .values(state=TaskState.RUNNING.value, start_date=_NOW, heartbeat_at=_NOW,
                  hostname=bindparam("v_hostname", type_=_TI.hostname.type), pid=None,
                  end_date=None)
          .returning(*TI_COLUMNS))
_RUNNING = update(TI_TABLE).where(_matches_try(),
                                  checked_state(_TI.state, TaskState.RUNNING.value))
_BEAT = _RUNNING.values(heartbeat_at=_NOW)
_BEAT_PID = _RUNNING.values(heartbeat_at=_NOW, pid=bindparam("v_pid", type_=_TI.pid.type))
_LOCK = (select(*TI_COLUMNS).where(_matches_try())
         .where(_TI.state.in_([TaskState.QUEUED.value, TaskState.RUNNING.value]))
         .with_for_update())


def start_try(store: SqlStore, ref: TryRef, hostname: str, now: datetime
              ) -> TaskInstanceRecord | None:
    """``queued -> running`` for exactly this try and step; returns the instance as it now
    is, or None if it is not that try (any more): a second delivery, or a try the
    scheduler has given up and queued again."""
    params = {**_params(ref), "v_now": now, "v_hostname": hostname}
    row = execute(store.session, _START, params).first()
    return row_to_ti(row) if row is not None else None


def heartbeat_tries(store: SqlStore, refs: Iterable[tuple[TryRef, int | None]],
                    now: datetime) -> list[TryRef]:
    """Record that these running tries are alive, each with the process id of its try on
    the worker's host when known (shown, not used to judge it); returns those no longer
    wanted (the instance has moved on: cleared, marked, failed by a timeout, or given to
    another try)."""
    gone: list[TryRef] = []
    for ref, pid in refs:
        params = {**_params(ref), "v_now": now, "v_pid": pid}
        if rowcount(execute(store.session, _BEAT if pid is None else _BEAT_PID, params)) != 1:
            gone.append(ref)
    return gone


def lock_try(store: SqlStore, ref: TryRef) -> TaskInstanceRecord | None:
    """Lock the instance row until the transaction ends, if it is still on this try and
    step and queued or running, and return it: then (and only then) its outcome may be
    recorded."""
    row = execute(store.session, _LOCK, _params(ref)).first()
    return row_to_ti(row) if row is not None else None


__all__ = ["TryRef", "heartbeat_tries", "lock_try", "start_try"]
