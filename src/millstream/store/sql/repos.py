"""The store's repository interfaces over SQL: each repo works in a Session and never commits."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    bindparam,
    delete,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from millstream.exceptions import ConflictError, StaleRecordError
from millstream.model.states import (
    UNFINISHED_RUN_STATES,
    DagRunState,
    InvalidTransition,
    TaskState,
    check_run_transition,
    check_transition,
)
from millstream.store.records import (
    DUE_AT_ONCE,
    DagRunRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
    TaskTryRecord,
    try_record_of,
)
from millstream.store.sql.active_rows import active_run, unfinished_instance
from millstream.store.sql.common import (
    by_run_key,
    by_ti_key,
    checked_state,
    conflicts_as_value_error,
    connection_of,
    execute,
    one_of,
    one_of_values,
    rowcount,
    ti_key_params,
)
from millstream.store.sql.convert import (
    DAG_TABLE,
    RUN_COLUMNS,
    RUN_FIELDS,
    RUN_KEY_FIELDS,
    RUN_TABLE,
    TI_COLUMNS,
    TI_FIELDS,
    TI_KEY_FIELDS,
    TI_TABLE,
    TRY_COLUMNS,
    TRY_TABLE,
    check_aware,
    row_to_run,
    row_to_ti,
    row_to_try,
    run_values,
    ti_values,
    try_values,
    update_values,
)
from millstream.store.sql.direct_statements import direct
from millstream.store.sql.dispatch_reads import (
    DISPATCH_LOCK,
    DISPATCH_ORDER,
    dispatch_view_postgresql,
    dispatch_view_sqlite,
)
from millstream.store.sql.held_reads import for_run_holding_run_postgresql
from millstream.store.sql.resume_point import LATEST_SCHEDULED
from millstream.store.sql.run_batches import SqlInstanceBatches, SqlRunBatches
from millstream.store.sql.run_locks import RUN_BY_KEY, SqlRunLocking
from millstream.store.sql.try_end import end_try_statement
from millstream.store.trigger_records import suspension_reset

# Statements built once; the values differ per call, the compiled SQL does not.
_RUN = RUN_TABLE.c
_TI = TI_TABLE.c
_RUN_GET = select(*RUN_COLUMNS).where(by_run_key(RUN_TABLE))
_RUN_STATE = select(_RUN.state).where(by_run_key(RUN_TABLE))
_RUN_LISTS = {
    (by_dag, by_state, active): select(*RUN_COLUMNS)
    .where(_RUN.dag_id == bindparam("k_dag_id") if by_dag else true())
    .where(_RUN.state.in_(bindparam("states", expanding=True)) if by_state else true())
    .where(active_run(_RUN.state) if active else true())
    .order_by(_RUN.dag_id, _RUN.logical_date)
    for by_dag in (False, True)
    for by_state in (False, True)
    for active in ((False, True) if by_state else (False,))
}
"""Listing runs, by (filtered by DAG, filtered by states, all of them active ones: then
ix_dag_run_active gives a DAG's in order, none of its history read)."""
_RUN_UPDATE = update(RUN_TABLE).where(by_run_key(RUN_TABLE),
                                      checked_state(_RUN.state, bindparam("k_state")))
_TI_GET = select(*TI_COLUMNS).where(by_ti_key(TI_TABLE))
_TI_STATE = select(_TI.state).where(by_ti_key(TI_TABLE))
_TI_FOR_RUN = (
    select(*TI_COLUMNS).where(by_run_key(TI_TABLE)).order_by(_TI.task_id, _TI.map_index)
)
_RUN_AND_TI_KEYS = (  # no row: no run; one row of NULLs: a run without instances
    select(_TI.task_id, _TI.map_index)
    .select_from(RUN_TABLE.outerjoin(TI_TABLE, (_TI.dag_id == _RUN.dag_id)
                                     & (_TI.run_id == _RUN.run_id)))
    .where(by_run_key(RUN_TABLE))
)
_TI_FOR_RUN_TASKS = {
    dialect: select(*TI_COLUMNS)
    .where(by_run_key(TI_TABLE), one_of(_TI.task_id, "task_ids", dialect))
    .order_by(_TI.task_id, _TI.map_index)
    for dialect in ("sqlite", "postgresql", "")
}
"""The instances of some tasks of a run, by dialect name ("" for any other)."""
_TI_UNFINISHED = (  # one seek of ix_task_instance_unfinished, which holds no finished row
    select(_TI.task_id).where(by_run_key(TI_TABLE), unfinished_instance(_TI.state)).limit(1)
)
_TI_IN_STATES = {
    dialect: select(*TI_COLUMNS)
    .where(one_of(_TI.state, "states", dialect))
    .order_by(_TI.dag_id, _TI.run_id, _TI.task_id, _TI.map_index)
    for dialect in ("sqlite", "postgresql", "")
}
# The window is a parameter, not part of the statement: a statement built per call
# (``.limit(n)``) has its cache key worked out anew over all its columns each time.
_TI_SCHEDULED = (
    select(*TI_COLUMNS)
    .where(_TI.state == TaskState.SCHEDULED.value)
    .order_by(*DISPATCH_ORDER)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_TI_SCHEDULED_LOCKED = _TI_SCHEDULED.with_for_update(skip_locked=True)
# Built once: a statement built per call has its cache key worked out on every call.
_RUN_INSERT = insert(RUN_TABLE)
_TI_INSERT = insert(TI_TABLE)
_TRY_INSERT = insert(TRY_TABLE)
_TI_UPDATE = update(TI_TABLE).where(by_ti_key(TI_TABLE),
                                    checked_state(_TI.state, bindparam("k_state")))
_TI_MARK_RUNNING = (
    update(TI_TABLE)
    .where(by_ti_key(TI_TABLE), checked_state(_TI.state, TaskState.QUEUED.value),
           _TI.try_number == bindparam("k_try_number"))
    .values(state=TaskState.RUNNING.value)
)
_TI_SET = update(TI_TABLE).where(by_ti_key(TI_TABLE))
"""Set the columns given as parameters on one task instance, whatever its state."""
_TRIES = select(*TRY_COLUMNS).where(by_ti_key(TRY_TABLE)).order_by(TRY_TABLE.c.id)
# A scheduler tick's statements, run on the driver's cursor (sqlite_direct.py, pg_direct.py).
for _statement in (_RUN_GET, _RUN_STATE, _RUN_UPDATE, _TI_GET, _TI_STATE, _TI_FOR_RUN,
                   *(by_dialect[name] for by_dialect in (_TI_FOR_RUN_TASKS, _TI_IN_STATES)
                     for name in ("sqlite", "postgresql")),
                   _TI_UNFINISHED, _TI_SCHEDULED, _TRY_INSERT, _TI_UPDATE, _TI_MARK_RUNNING,
                   _TI_SET, _TRIES):
    direct(_statement)
class SqlRunRepo(SqlRunLocking, SqlRunBatches):
    """DAG runs in the ``dag_run`` table."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, run: DagRunRecord) -> None:
        values = run_values(run)
        clashes = execute(self.session,
            select(_RUN.run_id).where(
                _RUN.dag_id == run.dag_id,
                or_(_RUN.run_id == run.run_id, _RUN.logical_date == run.logical_date),
            )
        ).scalars().all()
        if run.run_id in clashes:
            raise ConflictError(f"DAG {run.dag_id!r} already has a run {run.run_id!r}")
        if clashes:
            raise ConflictError(
                f"DAG {run.dag_id!r} already has a run for logical date "
                f"{run.logical_date.isoformat()}"
            )
        with conflicts_as_value_error(
            self.session, f"cannot add run {run.run_id!r} of DAG {run.dag_id!r}", sqlite_atomic=True
        ):
            execute(self.session, _RUN_INSERT, [values])

    def get(self, dag_id: str, run_id: str) -> DagRunRecord | None:
        row = execute(self.session, _RUN_GET, {"k_dag_id": dag_id, "k_run_id": run_id}).first()
        return row_to_run(row) if row is not None else None

    def find(self, dag_id: str, logical_date: datetime) -> DagRunRecord | None:
        row = execute(self.session,
            select(*RUN_COLUMNS).where(_RUN.dag_id == dag_id, _RUN.logical_date == logical_date)
        ).first()
        return row_to_run(row) if row is not None else None

    def list(
        self, dag_id: str | None = None, states: Iterable[DagRunState] | None = None
    ) -> list[DagRunRecord]:
        params: dict[str, Any] = {}
        if dag_id is not None:
            params["k_dag_id"] = dag_id
        active = False
        if states is not None:
            asked = {DagRunState(s) for s in states}
            params["states"] = sorted(state.value for state in asked)
            active = asked <= UNFINISHED_RUN_STATES
        query = _RUN_LISTS[(dag_id is not None, states is not None, active)]
        return [row_to_run(row) for row in execute(self.session, query, params)]

    def previous(self, dag_id: str, logical_date: datetime) -> DagRunRecord | None:
        row = execute(self.session,
            select(*RUN_COLUMNS)
            .where(_RUN.dag_id == dag_id, _RUN.logical_date < logical_date)
            .order_by(_RUN.logical_date.desc())
            .limit(1)
        ).first()
        return row_to_run(row) if row is not None else None

    def latest_scheduled(self, dag_ids: Collection[str]) -> dict[str, DagRunRecord]:
        # One statement of a fixed shape: for each DAG asked about, a correlated max() that
        # is one seek of ix_dag_run_resume, so the cost is per DAG, never per run in its
        # history, and the statement compiles once whatever the number of DAGs.
        wanted = sorted(set(dag_ids))
        if not wanted:
            return {}
        rows = execute(self.session, LATEST_SCHEDULED, {"dag_ids": wanted})
        return {run.dag_id: run for run in map(row_to_run, rows)}

    def delete(self, dag_id: str, run_id: str) -> bool:
        """Remove a run; its instances, tries and XComs go with it (ON DELETE CASCADE).

        The DAG is due for a look at once: its schedule's resume point may have moved."""
        result = execute(self.session,
            delete(RUN_TABLE).where(_RUN.dag_id == dag_id, _RUN.run_id == run_id)
        )
        if rowcount(result) == 0:
            return False
        execute(self.session,
            update(DAG_TABLE).where(DAG_TABLE.c.dag_id == dag_id).values(next_due_at=DUE_AT_ONCE)
        )
        return True

    def set_state(self, run: DagRunRecord, state: DagRunState, **fields: Any) -> DagRunRecord:
        """Apply a checked transition and update ``fields`` in the same write; returns the
        changed record.

        The write is a compare-and-set on the state ``run`` holds; if the row has moved
        on, :class:`StaleRecordError` is raised and nothing is written.
        """
        what = f"run {run.run_id!r} of DAG {run.dag_id!r}"
        new = check_run_transition(run.state, state, what)
        params = update_values(what, RUN_FIELDS, RUN_KEY_FIELDS, fields)
        params.update(state=new.value, k_dag_id=run.dag_id, k_run_id=run.run_id,
                      k_state=DagRunState(run.state).value)
        if rowcount(execute(self.session, _RUN_UPDATE, params)) != 1:
            current = execute(self.session,
                _RUN_STATE, {"k_dag_id": run.dag_id, "k_run_id": run.run_id}
            ).scalar()
            raise _stale(what, run.state, current)
        return replace(run, state=new, **fields)


class SqlTaskInstanceRepo(SqlInstanceBatches):
    """Task instances in ``task_instance``, and their tries' history in ``task_try``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_many(self, instances: Iterable[TaskInstanceRecord]) -> None:
        batch = list(instances)
        if not batch:
            return
        keys: set[TaskInstanceKey] = set()
        for ti in batch:
            if ti.key in keys:
                raise ConflictError(f"task instance {ti.key} already exists")
            keys.add(ti.key)
        values = [ti_values(ti) for ti in batch]
        for dag_id, run_id in {(k.dag_id, k.run_id) for k in keys}:
            present = execute(self.session,
                _RUN_AND_TI_KEYS, {"k_dag_id": dag_id, "k_run_id": run_id}
            ).all()
            if not present:
                raise ValueError(
                    f"cannot add task instances: DAG {dag_id!r} has no run {run_id!r}"
                )
            for task_id, map_index in present:
                key = TaskInstanceKey(dag_id, run_id, task_id, map_index)
                if key in keys:
                    raise ConflictError(f"task instance {key} already exists")
        # Checked above: on SQLite (one writer at a time) the insert cannot conflict.
        with conflicts_as_value_error(self.session, "cannot add task instances",
                                      sqlite_atomic=True):
            execute(self.session, _TI_INSERT, values)

    def get(self, key: TaskInstanceKey) -> TaskInstanceRecord | None:
        row = execute(self.session, _TI_GET, ti_key_params(key)).first()
        return row_to_ti(row) if row is not None else None

    def for_run(
        self, dag_id: str, run_id: str, task_ids: Collection[str] | None = None
    ) -> list[TaskInstanceRecord]:
        params: dict[str, Any] = {"k_dag_id": dag_id, "k_run_id": run_id}
        if task_ids is None:
            rows = execute(self.session, _TI_FOR_RUN, params)
        elif not task_ids:
            return []
        else:
            dialect = self._dialect()
            statement = _TI_FOR_RUN_TASKS.get(dialect, _TI_FOR_RUN_TASKS[""])
            rows = execute(self.session, statement,
                         {**params, "task_ids": one_of_values(task_ids, dialect)})
        return [row_to_ti(row) for row in rows]

    def for_run_holding_run(
        self, dag_id: str, run_id: str, task_ids: Collection[str]
    ) -> tuple[list[TaskInstanceRecord], DagRunRecord | None]:
        """On PostgreSQL one round trip (:mod:`~millstream.store.sql.held_reads`)."""
        if self._dialect() == "postgresql":
            return for_run_holding_run_postgresql(self.session, dag_id, run_id, task_ids)
        row = execute(self.session, RUN_BY_KEY, {"k_dag_id": dag_id, "k_run_id": run_id}
                      ).first()  # SQLite: one writer at a time, nothing to hold
        return self.for_run(dag_id, run_id, task_ids), (
            row_to_run(row) if row is not None else None)

    def has_unfinished(self, dag_id: str, run_id: str) -> bool:
        """Whether any instance of the run has not finished (an index seek, LIMIT 1)."""
        params = {"k_dag_id": dag_id, "k_run_id": run_id}
        return execute(self.session, _TI_UNFINISHED, params).first() is not None

    def lock_dispatch(self) -> bool:
        """On PostgreSQL a transaction-level advisory lock, tried without waiting; SQLite
        transactions already run one at a time (BEGIN IMMEDIATE)."""
        if self._dialect() != "postgresql":
            return True
        return bool(execute(self.session, DISPATCH_LOCK).scalar())

    def in_states(self, states: Iterable[TaskState]) -> list[TaskInstanceRecord]:
        """Instances in any of ``states`` (never locked: for counts and timers)."""
        wanted = sorted({TaskState(s).value for s in states})
        dialect = self._dialect()
        statement = _TI_IN_STATES.get(dialect, _TI_IN_STATES[""])
        rows = execute(self.session, statement, {"states": one_of_values(wanted, dialect)})
        return [row_to_ti(row) for row in rows]

    def dispatch_view(
        self, active_states: Iterable[TaskState], limit: int
    ) -> tuple[list[TaskInstanceRecord], list[TaskInstanceRecord]] | None:
        """The dispatch lock, the active instances and the first window: one statement
        on PostgreSQL and SQLite (:mod:`~millstream.store.sql.dispatch_reads`)."""
        dialect = self._dialect()
        wanted = sorted({TaskState(s).value for s in active_states})
        if dialect == "postgresql":
            return dispatch_view_postgresql(self.session, wanted, limit)
        if dialect == "sqlite":
            return dispatch_view_sqlite(self.session, wanted, limit)
        return self.in_states(active_states), self.dispatchable(limit)

    def dispatchable(self, limit: int, offset: int = 0) -> list[TaskInstanceRecord]:
        """Up to ``limit`` scheduled instances, highest priority first.

        On PostgreSQL they are locked with ``FOR UPDATE SKIP LOCKED`` until the transaction
        ends, so a second scheduler skips the rows this one is dispatching.
        """
        query = _TI_SCHEDULED_LOCKED if self._dialect() == "postgresql" else _TI_SCHEDULED
        rows = execute(self.session, query, {"limit": limit, "offset": offset})
        return [row_to_ti(row) for row in rows]

    def set_state(
        self, ti: TaskInstanceRecord, state: TaskState, **fields: Any
    ) -> TaskInstanceRecord:
        """Apply a checked transition and update ``fields`` in the same write; returns the
        changed record.

        The write is a compare-and-set on the state ``ti`` holds; if the row has moved
        on, :class:`StaleRecordError` is raised and nothing is written.
        """
        return self._compare_and_set(ti, state, fields, ending=False)

    def end_try(
        self, ti: TaskInstanceRecord, state: TaskState, **fields: Any
    ) -> TaskInstanceRecord:
        """:meth:`set_state` and the try's history row: on PostgreSQL one statement
        (:mod:`~millstream.store.sql.try_end`), one round trip fewer."""
        if self._dialect() != "postgresql":
            ended = self.set_state(ti, state, **fields)
            self.record_try(try_record_of(ended))
            return ended
        return self._compare_and_set(ti, state, fields, ending=True)

    def _compare_and_set(self, ti: TaskInstanceRecord, state: TaskState,
                         fields: dict[str, Any], ending: bool) -> TaskInstanceRecord:
        what = _ti_what(ti)
        new = check_transition(ti.state, state, what)
        fields = suspension_reset(ti, new, fields)
        values = update_values(what, TI_FIELDS, TI_KEY_FIELDS, fields)
        if ending:
            params = {f"v_{name}": value for name, value in values.items()}
            params.update(ti_key_params(ti.key), v_state=new.value,
                          k_state=TaskState(ti.state).value)
            statement = end_try_statement(frozenset({*values, "state"}))
            changed = len(execute(self.session, statement, params).all())
        else:
            changed = self._write_state(ti.key, TaskState(ti.state), new, values)
        if changed != 1:
            raise _stale(what, ti.state, self._current_state(ti.key))
        return replace(ti, state=new, **fields)

    def claim(
        self, ti: TaskInstanceRecord, expected: TaskState, state: TaskState, **fields: Any
    ) -> TaskInstanceRecord | None:
        """Compare-and-set: change the state only if it is still ``expected``.

        One ``UPDATE ... WHERE state = :expected``; returns the changed record, or None if
        it did not change the row.
        """
        what = _ti_what(ti)
        try:
            new = check_transition(expected, state, what)
        except InvalidTransition:
            if self._current_state(ti.key) == TaskState(expected).value:
                raise
            return None
        fields = suspension_reset(ti, new, fields)
        values = update_values(what, TI_FIELDS, TI_KEY_FIELDS, fields)
        if self._write_state(ti.key, TaskState(expected), new, values) != 1:
            return None
        return replace(ti, state=new, **fields)

    def mark_running(self, key: TaskInstanceKey, try_number: int, start_date: datetime,
                     hostname: str | None, pid: int | None) -> bool:
        """One ``UPDATE ... WHERE state = 'queued' AND try_number = :try_number``."""
        check_aware(f"task instance {key}", "start_date", start_date)
        params = {**ti_key_params(key), "k_try_number": try_number, "start_date": start_date,
                  "hostname": hostname, "pid": pid}
        return rowcount(execute(self.session, _TI_MARK_RUNNING, params)) == 1

    def heartbeat(self, keys: Iterable[TaskInstanceKey], now: datetime) -> None:
        """Record that the tries of these instances were seen alive at ``now``."""
        check_aware("heartbeat", "now", now)
        params = [{**ti_key_params(key), "heartbeat_at": now} for key in keys]
        if params:
            execute(self.session, _TI_SET, params)

    def expand(self, placeholder: TaskInstanceRecord, count: int) -> list[TaskInstanceRecord]:
        if placeholder.map_index != -1:
            raise ConflictError(f"task instance {placeholder.key} is already expanded")
        if count < 1:
            raise ValueError(
                f"task instance {placeholder.key}: cannot expand to {count} instances"
            )
        moved = execute(self.session, _TI_SET, {**ti_key_params(placeholder.key), "map_index": 0})
        if rowcount(moved) != 1:
            raise StaleRecordError(f"task instance {placeholder.key} is not in the store")
        created = [replace(placeholder, map_index=i) for i in range(count)]
        if count > 1:
            with conflicts_as_value_error(
                self.session, f"cannot expand task instance {placeholder.key}"
            ):
                execute(self.session, _TI_INSERT, [ti_values(ti) for ti in created[1:]])
        return created

    def record_try(self, record: TaskTryRecord) -> None:
        execute(self.session, _TRY_INSERT, [try_values(record)])

    def tries(self, key: TaskInstanceKey) -> list[TaskTryRecord]:
        return [row_to_try(row) for row in execute(self.session, _TRIES, ti_key_params(key))]

    # -- helpers ------------------------------------------------------------------------------
    def _write_state(
        self, key: TaskInstanceKey, expected: TaskState, new: TaskState, values: dict[str, Any]
    ) -> int:
        params = {**values, **ti_key_params(key), "state": new.value, "k_state": expected.value}
        return rowcount(execute(self.session, _TI_UPDATE, params))

    def _current_state(self, key: TaskInstanceKey) -> str | None:
        state: str | None = execute(self.session, _TI_STATE, ti_key_params(key)).scalar()
        return state

    def _dialect(self) -> str:
        return connection_of(self.session).dialect.name


def _ti_what(ti: TaskInstanceRecord) -> str:
    return f"task {ti.label!r} of run {ti.run_id!r}"


def _stale(what: str, held: object, current: str | None) -> StaleRecordError:
    if current is None:
        return StaleRecordError(f"{what} is not in the store")
    return StaleRecordError(
        f"{what} changed since it was read: the record says {str(held)!r}, "
        f"the store says {current!r}"
    )
