"""Creating, resetting and watching another DAG's run from inside a task (TriggerDagRunOperator).

The run is created in the metadata store of the process the task runs in
(:func:`millstream.store.current.current_store`), through the same service as
``millstream dags trigger`` (:func:`millstream.services.trigger.trigger_run`), recorded as
done by ``dag:<dag_id>.<task_id>``.

Under ``dag.test()`` that store is the test's own in-memory store, where no scheduler
has recorded any DAG, not even the one under test. There the run is recorded without
task instances (its DAG's structure is unknown) and nothing ever runs it; waiting for
it is an error saying so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from millstream.exceptions import InvalidInputError, TaskSkipped
from millstream.model.states import DagRunState
from millstream.operators.trigger_dagrun import DagRunAlreadyExists
from millstream.scheduler.runs import make_run_id
from millstream.services import clear, trigger
from millstream.services.common import require_dag, require_structure
from millstream.services.inputs import parse_conf, parse_date
from millstream.store.audit import record_action
from millstream.store.current import current_store
from millstream.store.records import DagRunRecord

if TYPE_CHECKING:
    from millstream.store.interfaces import Store

log = logging.getLogger("millstream.task")

RUN_TYPE = "manual"


@dataclass(frozen=True, slots=True)
class TriggeredRun:
    """The run a trigger created (or reset), and whether its DAG is known to the store."""

    run: DagRunRecord
    dag_known: bool


def trigger_dag_run(
    store: Store,
    *,
    source_dag_id: str,
    source_task_id: str,
    dag_id: str,
    logical_date: str | datetime | None,
    run_id: str | None,
    conf: str | Mapping[str, Any] | None,
    reset_dag_run: bool,
    skip_when_already_exists: bool,
    now: datetime,
    where: str = "",
) -> TriggeredRun:
    """Create a queued manual run of ``dag_id`` (or clear the one already there).

    ``logical_date`` and ``conf`` are the task's rendered values, checked by the services'
    parsers (their errors name ``where``). A run with the same id or logical date is
    cleared with ``reset_dag_run``, skips the task with ``skip_when_already_exists``, and
    is otherwise a :class:`DagRunAlreadyExists` error naming it. The conf is checked
    against the DAG's params first.
    """
    who = f"dag:{source_dag_id}.{source_task_id}"
    prefix = f"{where}: " if where else ""
    try:
        moment = parse_date(logical_date, "logical_date") or now
        run_conf = parse_conf(conf, "conf")
    except InvalidInputError as exc:
        raise InvalidInputError(f"{prefix}{exc}") from None
    run_id = run_id or make_run_id(RUN_TYPE, moment)
    with store.transaction():
        known = store.dags.get(dag_id) is not None
        if not known and store.dags.get(source_dag_id) is not None:
            require_dag(store, dag_id)  # a real store without that DAG: NotFoundError
        existing = store.runs.get(dag_id, run_id) or store.runs.find(dag_id, moment)
        if existing is not None:
            return TriggeredRun(
                _existing(store, existing, known, who, now, reset_dag_run,
                          skip_when_already_exists),
                known,
            )
        if not known:
            return TriggeredRun(_record_unknown(store, dag_id, run_id, moment, run_conf, who,
                                                now), False)
        created = trigger.trigger_run(store, dag_id, who=who, now=now, conf=run_conf,
                                      logical_date=moment, run_id=run_id,
                                      conf_field=f"{prefix}conf for DAG {dag_id!r}")
    return TriggeredRun(created, True)


def _existing(store: Store, run: DagRunRecord, known: bool, who: str, now: datetime,
              reset: bool, skip: bool) -> DagRunRecord:
    if not reset:
        message = (f"DAG {run.dag_id!r} already has a run {run.run_id!r} for logical date "
                   f"{run.logical_date.isoformat()}")
        if skip:
            raise TaskSkipped(f"{message} (skip_when_already_exists)")
        raise DagRunAlreadyExists(
            f"{message}; set reset_dag_run=True to clear and rerun it, or "
            "skip_when_already_exists=True to skip"
        )
    if not known:
        log.info("run %s of %s has no task instances here (dag.test()): nothing to clear",
                 run.run_id, run.dag_id)
        return run
    version = run.dag_version if store.dags.structure(run.dag_id, run.dag_version) else None
    structure = require_structure(store, run.dag_id, version)
    log.info("clearing run %s of DAG %s (reset_dag_run)", run.run_id, run.dag_id)
    clear.clear(store, structure, run.dag_id, [run.run_id],
                set(structure.task_dict), who, now)
    cleared = store.runs.get(run.dag_id, run.run_id)
    assert cleared is not None
    return cleared


def _record_unknown(store: Store, dag_id: str, run_id: str, logical_date: datetime,
                    conf: dict[str, Any], who: str, now: datetime) -> DagRunRecord:
    """Under dag.test(): the run, without task instances, so the test can see it."""
    run = DagRunRecord(
        dag_id=dag_id, run_id=run_id, logical_date=logical_date,
        data_interval_start=logical_date, data_interval_end=logical_date, run_type=RUN_TYPE,
        conf=dict(conf), queued_at=now,
    )
    store.runs.add(run)
    record_action(store, "trigger", who, now, dag_id=dag_id, run_id=run_id,
                  run_type=RUN_TYPE, logical_date=logical_date.isoformat(), conf=run.conf)
    log.warning("DAG %s is unknown to this store (dag.test()?): run %s is recorded, but "
                "nothing will run it", dag_id, run_id)
    return run


def run_state(store: Store, dag_id: str, run_id: str) -> DagRunState | None:
    """The run's state now, or None if it is gone."""
    with store.transaction():
        run = store.runs.get(dag_id, run_id)
    return None if run is None else DagRunState(run.state)


def is_paused(store: Store, dag_id: str) -> bool | None:
    """Whether the DAG is paused, or None when the store does not know it."""
    with store.transaction():
        record = store.dags.get(dag_id)
    return None if record is None else bool(record.is_paused)


class MetadataStoreDagRuns:
    """The trigger service on this process's metadata store: what TriggerDagRunOperator
    calls when it runs (``millstream/__init__`` registers it with the operator)."""

    def trigger_dag_run(
        self, *, source_dag_id: str, source_task_id: str, dag_id: str,
        logical_date: str | datetime | None, run_id: str | None,
        conf: str | Mapping[str, Any] | None, reset_dag_run: bool,
        skip_when_already_exists: bool, now: datetime, where: str,
    ) -> TriggeredRun:
        """:func:`trigger_dag_run` on :func:`current_store`."""
        return trigger_dag_run(
            current_store(), source_dag_id=source_dag_id, source_task_id=source_task_id,
            dag_id=dag_id, logical_date=logical_date, run_id=run_id, conf=conf,
            reset_dag_run=reset_dag_run, skip_when_already_exists=skip_when_already_exists,
            now=now, where=where,
        )

    def run_state(self, dag_id: str, run_id: str) -> DagRunState | None:
        """:func:`run_state` on :func:`current_store`."""
        return run_state(current_store(), dag_id, run_id)

    def is_paused(self, dag_id: str) -> bool | None:
        """:func:`is_paused` on :func:`current_store`."""
        return is_paused(current_store(), dag_id)
