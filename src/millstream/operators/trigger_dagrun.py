"""TriggerDagRunOperator: start a run of another DAG, optionally waiting for it to finish."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Protocol

from millstream.authoring.dag import DAG_ID_PATTERN
from millstream.authoring.task import BaseOperator
from millstream.authoring.xcom_arg import ResolvableArg
from millstream.exceptions import (
    ConflictError,
    DagDefinitionError,
    MillstreamError,
    TaskFailedNoRetry,
)
from millstream.model.states import DagRunState

log = logging.getLogger("millstream.task")

XCOM_RUN_ID = "trigger_run_id"
XCOM_LOGICAL_DATE_ISO = "trigger_logical_date_iso"


class DagRunAlreadyExists(ConflictError):
    """The DAG already has a run with that run id or logical date."""


class TriggeredRunInfo(Protocol):
    """What the operator reads of the run it triggered."""

    @property
    def run_id(self) -> str: ...

    @property
    def logical_date(self) -> datetime: ...


class TriggerOutcome(Protocol):
    """The run a trigger created (or reset), and whether its DAG is known to the store."""

    @property
    def run(self) -> TriggeredRunInfo: ...

    @property
    def dag_known(self) -> bool: ...


class DagRunService(Protocol):
    """The metadata-store actions the operator takes when it runs.

    They are the trigger service's (``millstream.services``), which sits above the
    operators; the package's ``__init__`` registers it, so operators never import it.
    """

    def trigger_dag_run(
        self, *, source_dag_id: str, source_task_id: str, dag_id: str,
        logical_date: str | datetime | None, run_id: str | None,
        conf: str | Mapping[str, Any] | None, reset_dag_run: bool,
        skip_when_already_exists: bool, now: datetime, where: str,
    ) -> TriggerOutcome:
        """Create a queued manual run of ``dag_id`` (or clear the one already there)."""
        ...

    def run_state(self, dag_id: str, run_id: str) -> DagRunState | None:
        """The run's state now, or None if it is gone."""
        ...

    def is_paused(self, dag_id: str) -> bool | None:
        """Whether the DAG is paused (None: the store does not know it)."""
        ...


_dag_run_service: list[DagRunService] = []


def register_dag_run_service(service: DagRunService) -> None:
    """Make ``service`` the one the operator calls (the last registered wins)."""
    _dag_run_service[:] = [service]


def dag_run_service() -> DagRunService:
    """The registered service; RuntimeError when none is (``import millstream`` registers it)."""
    if not _dag_run_service:
        raise RuntimeError("no service for TriggerDagRunOperator is registered; "
                           "import millstream first")
    return _dag_run_service[0]


class TriggeredRunFailed(MillstreamError):
    """The triggered run ended in one of the operator's ``failed_states``."""


class DagIsPaused(TaskFailedNoRetry):
    """``fail_when_dag_is_paused`` is set and the DAG to trigger is paused."""


class TriggerDagRunOperator(BaseOperator):
    """Creates a run of ``trigger_dag_id`` (as ``millstream dags trigger`` would).

    :param trigger_dag_id: the DAG to run (templated).
    :param trigger_run_id: the new run's id (templated); default ``manual__<logical date>``.
    :param conf: the run's conf, a JSON object (templated); checked against the DAG's params.
    :param logical_date: the run's logical date, a datetime or an ISO string (templated);
        default: the moment the task runs.
    :param reset_dag_run: if that DAG already has a run with this run id or logical date,
        clear it so that it runs again (otherwise that is a :class:`DagRunAlreadyExists`
        error naming the run, or a skip with ``skip_when_already_exists``).
    :param wait_for_completion: wait, checking every ``poke_interval`` seconds, until the run
        reaches one of ``allowed_states`` (the task succeeds) or ``failed_states``
        (:class:`TriggeredRunFailed`).
    :param deferrable: wait in the triggerer instead of polling from the task, so the wait
        holds no worker slot (needs ``millstream triggerer``, which ``standalone`` runs).
    :param fail_when_dag_is_paused: fail (without retry) instead of triggering when the DAG
        to trigger is paused.
    :param note: a note for the triggered run; millstream logs it with the trigger.

    The run id and logical date are pushed to XCom as ``trigger_run_id`` and
    ``trigger_logical_date_iso``. The run is recorded in the audit log as done by
    ``dag:<this dag>.<this task>``; a paused target DAG keeps it queued until unpaused.

    Under ``dag.test()`` only the DAG under test runs: the triggered run is recorded in the
    test's in-memory store (see it with ``result.xcom_pull(task_id, key="trigger_run_id")``)
    but never runs, so ``wait_for_completion=True`` fails at once, saying so.
    """

    template_fields: ClassVar[tuple[str, ...]] = (
        "trigger_dag_id", "trigger_run_id", "logical_date", "conf",
    )
    ui_color: ClassVar[str] = "#ffefeb"

    def __init__(
        self,
        *,
        trigger_dag_id: str,
        trigger_run_id: str | None = None,
        conf: dict[str, Any] | None = None,
        logical_date: str | datetime | date | None = None,
        reset_dag_run: bool = False,
        wait_for_completion: bool = False,
        poke_interval: float = 60,
        allowed_states: Iterable[str | DagRunState] | None = None,
        failed_states: Iterable[str | DagRunState] | None = None,
        skip_when_already_exists: bool = False,
        fail_when_dag_is_paused: bool = False,
        deferrable: bool = False,
        note: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = self._where()
        if not isinstance(trigger_dag_id, str) or not trigger_dag_id.strip():
            raise DagDefinitionError(f"{where}: trigger_dag_id must be a non-empty string")
        if not _templated(trigger_dag_id) and not DAG_ID_PATTERN.match(trigger_dag_id):
            raise DagDefinitionError(f"{where}: trigger_dag_id {trigger_dag_id!r} is not a "
                                     "valid dag id")
        if trigger_run_id is not None and not isinstance(trigger_run_id, str):
            raise DagDefinitionError(f"{where}: trigger_run_id must be a string")
        if conf is not None and not isinstance(conf, Mapping | ResolvableArg):
            raise DagDefinitionError(
                f"{where}: conf must be a dict (a JSON object), got {type(conf).__name__}"
            )
        if logical_date is not None and not isinstance(logical_date, str | date):
            raise DagDefinitionError(f"{where}: logical_date must be a datetime or an ISO "
                                     f"string, got {type(logical_date).__name__}")
        if isinstance(poke_interval, bool) or not isinstance(poke_interval, int | float) \
                or poke_interval <= 0:
            raise DagDefinitionError(f"{where}: poke_interval must be a positive number of "
                                     "seconds")
        self.trigger_dag_id = trigger_dag_id
        self.trigger_run_id = trigger_run_id
        self.conf = conf
        self.logical_date = logical_date
        self.reset_dag_run = bool(reset_dag_run)
        self.wait_for_completion = bool(wait_for_completion)
        self.poke_interval = float(poke_interval)
        self.allowed_states = _states(allowed_states, [DagRunState.SUCCESS], "allowed_states",
                                      where)
        self.failed_states = _states(failed_states, [DagRunState.FAILED], "failed_states", where)
        both = sorted(s.value for s in set(self.allowed_states) & set(self.failed_states))
        # As in Airflow, the default failed_states stay when allowed_states names "failed"
        # too (a failed run then fails the task: failed states are checked first); only
        # an explicit overlap is a mistake worth refusing.
        if both and failed_states is not None:
            raise DagDefinitionError(f"{where}: {', '.join(both)} is in both allowed_states "
                                     "and failed_states")
        self.skip_when_already_exists = bool(skip_when_already_exists)
        self.fail_when_dag_is_paused = bool(fail_when_dag_is_paused)
        self.deferrable = bool(deferrable)
        self.note = note  # logged with the trigger; runs have no note field

    def _where(self) -> str:
        return (f"DAG {self.dag_id!r}, task {self.task_id!r}" if self.dag_id
                else f"task {self.task_id!r}")

    def execute(self, context: dict[str, Any]) -> None:
        # The metadata store is reached only when the task runs, never when the DAG loads.
        service = dag_run_service()
        where = self._where()
        dag_id = self.trigger_dag_id
        if not isinstance(dag_id, str) or not DAG_ID_PATTERN.match(dag_id):
            raise ValueError(f"{where}: trigger_dag_id rendered to {dag_id!r}, which is not a "
                             "valid dag id")
        now = datetime.now(UTC)
        ti = context["ti"]
        if self.fail_when_dag_is_paused and service.is_paused(dag_id):
            raise DagIsPaused(f"{where}: DAG {dag_id!r} is paused, and "
                              "fail_when_dag_is_paused is set")
        if self.note:
            log.info("note for the triggered run: %s", self.note)
        triggered = service.trigger_dag_run(
            source_dag_id=ti.dag_id,
            source_task_id=ti.task_id,
            dag_id=dag_id,
            logical_date=self.logical_date,
            run_id=self._run_id(where),
            conf=self.conf,
            reset_dag_run=self.reset_dag_run,
            skip_when_already_exists=self.skip_when_already_exists,
            now=now,
            where=where,
        )
        run = triggered.run
        log.info("triggered run %s of DAG %s", run.run_id, dag_id)
        ti.xcom_push(XCOM_RUN_ID, run.run_id)
        ti.xcom_push(XCOM_LOGICAL_DATE_ISO, run.logical_date.isoformat())
        if not self.wait_for_completion:
            return
        if not triggered.dag_known:
            raise TaskFailedNoRetry(
                f"{where}: cannot wait for run {run.run_id!r} of DAG {dag_id!r}: that DAG is "
                "unknown to this store, as under dag.test(), which runs only the DAG under "
                "test, so the run never starts. Test that DAG with its own dag.test(), or "
                "set wait_for_completion=False for this test."
            )
        if self.deferrable:
            from millstream.triggerer.triggers.external_task import ExternalTaskTrigger

            # The triggerer watches the run; this task gives its worker slot back meanwhile.
            self.defer(
                trigger=ExternalTaskTrigger(
                    external_dag_id=dag_id, logical_dates=[run.logical_date],
                    allowed_states=[s.value for s in self.allowed_states],
                    failed_states=[s.value for s in self.failed_states],
                    poke_interval=self.poke_interval,
                ),
                method_name="execute_complete",
                kwargs={"run_id": run.run_id},
            )
        while True:
            state = service.run_state(dag_id, run.run_id)
            if state is None:
                raise TriggeredRunFailed(f"{where}: run {run.run_id!r} of DAG {dag_id!r} was "
                                         "deleted while waiting for it")
            if state in self.failed_states:
                raise TriggeredRunFailed(f"{where}: run {run.run_id!r} of DAG {dag_id!r} "
                                         f"ended {state.value}")
            if state in self.allowed_states:
                log.info("run %s of DAG %s is %s", run.run_id, dag_id, state.value)
                return
            log.info("waiting for run %s of DAG %s (%s)", run.run_id, dag_id, state.value)
            time.sleep(self.poke_interval)

    def execute_complete(self, context: dict[str, Any], event: dict[str, Any] | None = None,
                         run_id: str = "") -> None:
        """Resumed from a deferral: the triggered run reached an allowed or a failed state."""
        status = (event or {}).get("status")
        message = (event or {}).get("message", "")
        if status != "success":
            raise TriggeredRunFailed(f"{self._where()}: run {run_id!r} of DAG "
                                     f"{self.trigger_dag_id!r} ended {status}: {message}")
        log.info("run %s of DAG %s finished: %s", run_id, self.trigger_dag_id, message)

    def _run_id(self, where: str) -> str | None:
        run_id = self.trigger_run_id
        if run_id is None:
            return None
        if not isinstance(run_id, str) or not run_id.strip():
            raise ValueError(f"{where}: trigger_run_id rendered to {run_id!r}; a run id must "
                             "be a non-empty string")
        return run_id


def _templated(value: str) -> bool:
    return "{{" in value or "{%" in value


def _states(values: Iterable[str | DagRunState] | None, default: list[DagRunState],
            name: str, where: str) -> list[DagRunState]:
    if values is None:
        return list(default)
    if isinstance(values, str):
        values = [values]
    found: list[DagRunState] = []
    for value in values:
        try:
            found.append(DagRunState(value.lower() if isinstance(value, str) else value))
        except ValueError:
            choices = ", ".join(s.value for s in DagRunState)
            raise DagDefinitionError(f"{where}: {name} has {value!r}, which is not a run "
                                     f"state; expected some of: {choices}") from None
    return found


__all__ = [
    "XCOM_LOGICAL_DATE_ISO",
    "XCOM_RUN_ID",
    "DagIsPaused",
    "DagRunAlreadyExists",
    "TriggerDagRunOperator",
    "TriggeredRunFailed",
]
