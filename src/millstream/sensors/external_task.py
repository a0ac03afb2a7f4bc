"""ExternalTaskSensor: wait for a task, a task group or a whole run of another DAG."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from millstream.authoring.task import BaseOperator
from millstream.exceptions import DagDefinitionError, TaskFailedNoRetry, TaskSkipped
from millstream.model.intervals import ensure_utc
from millstream.model.states import DagRunState, TaskState
from millstream.sensors.base import BaseSensorOperator
from millstream.triggerer.triggers.external_task import (
    ExternalOutcome,
    ExternalTarget,
    ExternalTaskTrigger,
    check_external,
)

if TYPE_CHECKING:
    from millstream.store.interfaces import Store

log = logging.getLogger("millstream.task")


class ExternalTaskFailed(TaskFailedNoRetry):
    """What the sensor waits for reached one of its ``failed_states``: waiting longer (or
    retrying) cannot help, so the sensor fails at once."""


class ExternalTaskNotFound(TaskFailedNoRetry):
    """``check_existence`` found no such DAG, task or task group."""


class ExternalTaskSensor(BaseSensorOperator):
    """Waits for another DAG's task(s), task group or whole run at a matching logical date.

    :param external_dag_id: the DAG waited for.
    :param external_task_id: one task of it; or ``external_task_ids`` (several) or
        ``external_task_group_id`` (every task of a group). None of them: the whole run.
    :param allowed_states: states that count as done (default ``["success"]``; task
        states for tasks and groups, run states for a whole DAG).
    :param failed_states: states that fail the sensor at once, naming the upstream.
    :param skipped_states: states that skip the sensor.
    :param execution_delta: look at the run whose logical date is this much earlier
        (``timedelta(hours=1)``: the previous hourly run).
    :param execution_date_fn: ``fn(logical_date, **context keys it names)`` returning the
        logical date(s) to look at; an alternative to ``execution_delta``.
    :param check_existence: fail at once if the DAG (or task, or group) does not exist.
    :param deferrable: wait in the triggerer (:class:`ExternalTaskTrigger`).

    It reads the metadata store of the process it runs in, so under ``dag.test()`` it
    sees the runs of that test's store.
    """

    template_fields: ClassVar[tuple[str, ...]] = (
        "external_dag_id", "external_task_id", "external_task_ids", "external_task_group_id",
    )
    ui_color: ClassVar[str] = "#4db7db"

    def __init__(
        self,
        *,
        external_dag_id: str,
        external_task_id: str | None = None,
        external_task_ids: Sequence[str] | None = None,
        external_task_group_id: str | None = None,
        allowed_states: Iterable[str] | None = None,
        skipped_states: Iterable[str] | None = None,
        failed_states: Iterable[str] | None = None,
        execution_delta: timedelta | None = None,
        execution_date_fn: Callable[..., datetime | Sequence[datetime]] | None = None,
        check_existence: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = (f"DAG {self.dag_id!r}, task {self.task_id!r}" if self.dag
                 else f"task {self.task_id!r}")
        if not isinstance(external_dag_id, str) or not external_dag_id:
            raise DagDefinitionError(f"{where}: external_dag_id must be a non-empty string")
        if external_task_id is not None and external_task_ids is not None:
            raise DagDefinitionError(
                f"{where}: give external_task_id or external_task_ids, not both")
        task_ids = [external_task_id] if external_task_id is not None else list(
            external_task_ids or [])
        if external_task_group_id is not None and task_ids:
            raise DagDefinitionError(
                f"{where}: give external_task_group_id or external task ids, not both")
        if len(set(task_ids)) != len(task_ids):
            raise DagDefinitionError(f"{where}: external_task_ids has duplicates: {task_ids}")
        if execution_delta is not None and execution_date_fn is not None:
            raise DagDefinitionError(
                f"{where}: give execution_delta or execution_date_fn, not both")
        if execution_delta is not None and not isinstance(execution_delta, timedelta):
            raise DagDefinitionError(
                f"{where}: execution_delta must be a timedelta, got {execution_delta!r}")
        if execution_date_fn is not None and not callable(execution_date_fn):
            raise DagDefinitionError(f"{where}: execution_date_fn must be callable")
        whole_dag = not task_ids and external_task_group_id is None
        valid = {s.value for s in (DagRunState if whole_dag else TaskState)}
        kind = "DAG run states" if whole_dag else "task states"
        self.allowed_states = _states(allowed_states, ["success"], "allowed_states",
                                      valid, kind, where)
        self.skipped_states = _states(skipped_states, [], "skipped_states", valid, kind, where)
        self.failed_states = _states(failed_states, [], "failed_states", valid, kind, where)
        named = [*self.allowed_states, *self.skipped_states, *self.failed_states]
        if len(set(named)) != len(named):
            raise DagDefinitionError(
                f"{where}: a state may be in only one of allowed_states "
                f"{self.allowed_states}, skipped_states {self.skipped_states} and "
                f"failed_states {self.failed_states}")
        self.external_dag_id = external_dag_id
        self.external_task_id = external_task_id
        self.external_task_ids = list(external_task_ids or [])
        self.external_task_group_id = external_task_group_id
        self.execution_delta = execution_delta
        self.execution_date_fn = execution_date_fn
        self.check_existence = check_existence

    # -- what is looked at -----------------------------------------------------------------
    @property
    def target(self) -> ExternalTarget:
        """The DAG, tasks or group waited for (as rendered for this run)."""
        task_ids = ([self.external_task_id] if self.external_task_id is not None
                    else self.external_task_ids)
        return ExternalTarget(self.external_dag_id, tuple(task_ids),
                              self.external_task_group_id)

    def logical_dates(self, context: dict[str, Any]) -> list[datetime]:
        """The logical dates of the external runs to look at, for this run's context."""
        logical_date: datetime = context["logical_date"]
        if self.execution_delta is not None:
            return [logical_date - self.execution_delta]
        if self.execution_date_fn is None:
            return [logical_date]
        result = _call_date_fn(self.execution_date_fn, logical_date, context)
        dates = list(result) if isinstance(result, list | tuple) else [result]
        if not dates or not all(isinstance(d, datetime) for d in dates):
            raise TypeError(
                f"task {self.task_id!r}: execution_date_fn must return a datetime or a "
                f"non-empty list of datetimes, got {result!r}")
        return [ensure_utc(d) for d in dates]

    # -- poking ----------------------------------------------------------------------------
    def poke(self, context: dict[str, Any]) -> bool:
        from millstream.store.current import metadata_transaction

        dates = self.logical_dates(context)
        log.info("Poking for %s at %s", self.target.describe(),
                 ", ".join(d.isoformat() for d in dates))
        with metadata_transaction() as store:
            if self.check_existence:
                self._check_existence(store)
            outcome = check_external(store, self.target, dates, self.allowed_states,
                                     self.failed_states, self.skipped_states)
        return self._conclude(outcome)

    def make_trigger(self, context: dict[str, Any]) -> ExternalTaskTrigger:
        return ExternalTaskTrigger(
            external_dag_id=self.external_dag_id,
            logical_dates=self.logical_dates(context),
            allowed_states=self.allowed_states,
            failed_states=self.failed_states,
            skipped_states=self.skipped_states,
            external_task_ids=self.target.task_ids,
            external_task_group_id=self.external_task_group_id,
            poke_interval=self.poke_interval.total_seconds(),
        )

    def execute_complete(self, context: dict[str, Any], event: Any = None) -> None:
        if not isinstance(event, dict) or "status" not in event:
            raise TypeError(f"task {self.task_id!r}: unexpected trigger event {event!r}")
        self._conclude(ExternalOutcome(event["status"], str(event.get("message", ""))))

    def _conclude(self, outcome: ExternalOutcome) -> bool:
        if outcome.status == "failed":
            raise ExternalTaskFailed(f"upstream failed: {outcome.message}")
        if outcome.status == "skipped":
            raise TaskSkipped(f"upstream skipped: {outcome.message}")
        if outcome.status == "waiting":
            log.info("Not yet: %s", outcome.message)
            return False
        log.info("Done: %s", outcome.message)
        return True

    def _check_existence(self, store: Store) -> None:
        """Fail naming the DAG, task or group that the external DAG does not have.

        The DAG's parsed structure is the authority; a DAG never parsed into this store
        (``dag.test()``) is known by its runs instead.
        """
        from millstream.parsing.serialize import DagStructure

        dag_id = self.external_dag_id
        with store.transaction():
            text = store.dags.structure(dag_id) if store.dags.get(dag_id) else None
            if text is not None:
                structure = DagStructure.from_json_text(text)
                task_ids = set(structure.task_dict)
            else:
                runs = store.runs.list(dag_id)
                if not runs:
                    raise ExternalTaskNotFound(
                        f"check_existence: the external DAG {dag_id!r} does not exist")
                task_ids = {ti.task_id for run in runs
                            for ti in store.task_instances.for_run(dag_id, run.run_id)}
        for task_id in self.target.task_ids:
            if task_id not in task_ids:
                raise ExternalTaskNotFound(
                    f"check_existence: the external task {task_id!r} does not exist in DAG "
                    f"{dag_id!r}")
        group = self.external_task_group_id
        if group is not None and not any(t.startswith(f"{group}.") for t in task_ids):
            raise ExternalTaskNotFound(
                f"check_existence: the external task group {group!r} does not exist in DAG "
                f"{dag_id!r}")


def _states(
    given: Iterable[str] | None, default: list[str], name: str, valid: set[str], kind: str,
    where: str,
) -> list[str]:
    if given is None:
        return list(default)
    if isinstance(given, str):
        raise DagDefinitionError(f"{where}: {name} must be a list of states, got {given!r}")
    states = [str(getattr(s, "value", s)) for s in given]
    unknown = [s for s in states if s not in valid]
    if unknown:
        raise DagDefinitionError(
            f"{where}: {name} has {unknown}, which are not {kind}; valid: {sorted(valid)}")
    return states


def _call_date_fn(
    fn: Callable[..., Any], logical_date: datetime, context: dict[str, Any]
) -> Any:
    """``fn(logical_date, **the context keys it names)``; ``**kwargs`` gets them all."""
    parameters = list(inspect.signature(fn).parameters.values())
    extra = {k: v for k, v in context.items() if k not in ("logical_date", "execution_date")}
    extra["context"] = context
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return fn(logical_date, **extra)
    names = {p.name for p in parameters[1:]
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return fn(logical_date, **{k: v for k, v in extra.items() if k in names})


class ExternalTaskMarker(BaseOperator):
    """Marks that ``external_task_id`` of ``external_dag_id`` depends on this task.

    Running it does nothing. Clearing it also clears that task, and the tasks after it, in
    the other DAG's run at ``logical_date`` (a template; the run's own logical date by
    default), and so on through markers there, at most ``recursion_depth`` DAGs deep.
    """

    template_fields = ("external_dag_id", "external_task_id", "logical_date")
    ui_color = "#4db7db"

    def __init__(
        self,
        *,
        external_dag_id: str,
        external_task_id: str,
        logical_date: str | datetime | None = "{{ logical_date.isoformat() }}",
        recursion_depth: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(recursion_depth, int) or recursion_depth <= 0:
            raise DagDefinitionError(
                f"task {self.task_id!r}: recursion_depth must be a positive integer"
            )
        self.external_dag_id = external_dag_id
        self.external_task_id = external_task_id
        self.logical_date = logical_date
        self.recursion_depth = recursion_depth

    @property
    def external_marker(self) -> dict[str, Any]:
        """What clearing needs to follow this marker (stored with the DAG's structure)."""
        date = self.logical_date
        return {
            "dag_id": self.external_dag_id,
            "task_id": self.external_task_id,
            "logical_date": date.isoformat() if isinstance(date, datetime) else date,
            "recursion_depth": self.recursion_depth,
        }

    def execute(self, context: dict[str, Any]) -> None:
        return None
