"""BaseSensorOperator: wait for a condition by poking it (poke or reschedule mode) or deferring.

A sensor implements ``poke(context)``, returning True (or a :class:`PokeReturnValue`)
once its condition holds. How it waits between pokes is chosen per task:

* ``mode="poke"`` (default): the try keeps its worker slot and sleeps ``poke_interval``
  between pokes. Best for short waits.
* ``mode="reschedule"``: a poke that finds nothing ends the try's turn as
  ``up_for_reschedule`` and frees its slot; the scheduler runs it again at the next poke
  time. The try number stays the same, and ``timeout`` counts from the first poke.
* ``deferrable=True``: after one poke that finds nothing, the task hands an async
  trigger (:meth:`make_trigger`) to the triggerer and frees its slot; the trigger's event
  resumes it in :meth:`execute_complete`. Sensors that support this implement
  ``make_trigger`` (or override ``execute`` and call ``self.defer`` themselves).

Past ``timeout`` the sensor fails with :class:`~millstream.exceptions.SensorTimeout`
(no retry), or is skipped if ``soft_fail`` is set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from millstream.authoring.dag import current_dag
from millstream.authoring.task import BaseOperator
from millstream.exceptions import (
    DagDefinitionError,
    SensorTimeout,
    TaskDeferralError,
    TaskDeferralTimeout,
    TaskFailedNoRetry,
    TaskRescheduled,
    TaskSkipped,
    TaskTimeout,
)
from millstream.model.retry import retry_delay
from millstream.triggerer.clock import current_clock

if TYPE_CHECKING:
    from millstream.triggerer.base import BaseTrigger

__all__ = ["BaseSensorOperator", "PokeReturnValue", "apply_defaults"]

log = logging.getLogger("millstream.task")

DEFAULT_POKE_INTERVAL = timedelta(seconds=60)
DEFAULT_TIMEOUT = timedelta(days=7)


_F = TypeVar("_F", bound=Callable[..., Any])


def apply_defaults(init: _F) -> _F:
    """Accepted on an operator's ``__init__`` as Airflow code writes it (``@apply_defaults``).

    millstream fills every operator's arguments from ``default_args`` already, so this
    returns ``init`` unchanged.
    """
    return init


class PokeReturnValue:
    """What ``poke()`` may return instead of a bool: whether the condition holds, and the
    value the sensor then pushes to XCom as its return value."""

    def __init__(self, is_done: bool, xcom_value: Any = None) -> None:
        self.is_done = bool(is_done)
        self.xcom_value = xcom_value

    def __bool__(self) -> bool:
        return self.is_done

    def __repr__(self) -> str:
        return f"PokeReturnValue(is_done={self.is_done}, xcom_value={self.xcom_value!r})"


class BaseSensorOperator(BaseOperator):
    """A task that waits until :meth:`poke` says its condition holds.

    :param poke_interval: time between pokes (a timedelta or seconds).
    :param timeout: the longest the sensor waits, counted from its first poke.
    :param soft_fail: end as skipped instead of failed on timeout or a sensor error.
    :param mode: ``"poke"`` (keep the worker slot while waiting) or ``"reschedule"``
        (free it between pokes).
    :param exponential_backoff: double the wait after each poke (with jitter).
    :param max_wait: the longest single wait when backing off exponentially.
    :param silent_fail: a poke that raises counts as "not yet" instead of failing.
    :param deferrable: wait on an async trigger in the triggerer instead of a worker.
    """

    ui_color: ClassVar[str] = "#e6f1f2"
    valid_modes: ClassVar[Sequence[str]] = ("poke", "reschedule")

    def __init__(
        self,
        *,
        poke_interval: timedelta | float = DEFAULT_POKE_INTERVAL,
        timeout: timedelta | float = DEFAULT_TIMEOUT,
        soft_fail: bool = False,
        mode: str = "poke",
        exponential_backoff: bool = False,
        max_wait: timedelta | float | None = None,
        silent_fail: bool = False,
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        # Checked before the task joins its DAG, so a bad sensor leaves no trace there.
        dag = kwargs.get("dag") or current_dag()
        task_id = kwargs.get("task_id")
        where = f"DAG {dag.dag_id!r}, task {task_id!r}" if dag else f"task {task_id!r}"
        if mode not in self.valid_modes:
            raise DagDefinitionError(
                f"{where}: unknown sensor mode {mode!r}; expected one of "
                f"{', '.join(repr(m) for m in self.valid_modes)}"
            )
        if deferrable and not self._can_defer():
            raise DagDefinitionError(
                f"{where}: {type(self).__name__} does not support deferrable=True: it "
                "defines no trigger (implement make_trigger(context))"
            )
        self.poke_interval = _duration(poke_interval, "poke_interval", where)
        self.timeout = _duration(timeout, "timeout", where)
        self.max_wait = None if max_wait is None else _duration(max_wait, "max_wait", where)
        self.soft_fail = soft_fail
        self.mode = mode
        self.exponential_backoff = exponential_backoff
        self.silent_fail = silent_fail
        self.deferrable = deferrable
        super().__init__(**kwargs)

    # -- what subclasses implement -------------------------------------------------------
    def poke(self, context: dict[str, Any]) -> bool | PokeReturnValue:
        """Check the condition once: True (or ``PokeReturnValue(True, value)``) when met."""
        raise NotImplementedError(f"{type(self).__name__} must implement poke()")

    def make_trigger(self, context: dict[str, Any]) -> BaseTrigger:
        """The trigger that fires when the condition holds (for ``deferrable=True``)."""
        raise NotImplementedError(f"{type(self).__name__} defines no trigger")

    def execute_complete(self, context: dict[str, Any], event: Any = None) -> Any:
        """Resume after the trigger fired. An event ``{"status": "error", "message": ...}``
        fails the sensor (or skips it with ``soft_fail``); otherwise it succeeds."""
        if isinstance(event, dict) and event.get("status") in ("error", "failed"):
            raise TaskDeferralError(str(event.get("message") or event))
        return None

    # -- running -------------------------------------------------------------------------
    @property
    def reschedule(self) -> bool:
        """Whether the sensor frees its slot between pokes."""
        return self.mode == "reschedule"

    def execute(self, context: dict[str, Any]) -> Any:
        if self.deferrable:
            return self._defer_unless_done(context)
        clock = current_clock()
        ti = context.get("ti")
        if self.reschedule:
            # A rescheduled try carries the start of its first poke and the pokes so far.
            started = getattr(ti, "start_date", None) or clock.now()
            poke_number = getattr(ti, "reschedule_count", 0) + 1
        else:
            started = clock.now()
            poke_number = 1
        while True:
            done, value = self._poke_once(context)
            if done:
                return value
            now = clock.now()
            waited = now - started
            if waited >= self.timeout:
                self._time_out(waited)
            wait = min(self._interval(poke_number, context), self.timeout - waited)
            if self.reschedule:
                raise TaskRescheduled(now + wait)
            self.log_waiting(wait)
            clock.sleep(wait.total_seconds())
            poke_number += 1

    def resume_execution(
        self, next_method: str, next_kwargs: dict[str, Any] | None, context: dict[str, Any]
    ) -> Any:
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except TaskDeferralTimeout as exc:
            if self.soft_fail:
                raise TaskSkipped(f"soft_fail: {exc}") from exc
            raise SensorTimeout(f"sensor {self.task_id!r} timed out: {exc}") from exc
        except (TaskDeferralError, TaskFailedNoRetry, TaskTimeout) as exc:
            if self.soft_fail:
                raise TaskSkipped(f"soft_fail: {exc}") from exc
            raise

    def log_waiting(self, wait: timedelta) -> None:
        """Say that the condition is not met yet and when the next poke comes."""
        log.info(
            "%s: condition not met, poking again in %.3g s", self.task_id, wait.total_seconds()
        )

    # -- helpers ---------------------------------------------------------------------------
    def _can_defer(self) -> bool:
        cls = type(self)
        return (cls.make_trigger is not BaseSensorOperator.make_trigger
                or cls.execute is not BaseSensorOperator.execute)

    def _defer_unless_done(self, context: dict[str, Any]) -> Any:
        if type(self).poke is not BaseSensorOperator.poke:
            done, value = self._poke_once(context)
            if done:
                return value
        self.defer(trigger=self.make_trigger(context), method_name="execute_complete",
                   timeout=self.timeout)

    def _poke_once(self, context: dict[str, Any]) -> tuple[bool, Any]:
        try:
            result = self.poke(context)
        except (SensorTimeout, TaskFailedNoRetry, TaskTimeout) as exc:
            if self.soft_fail:
                raise TaskSkipped(f"soft_fail: {exc}") from exc
            raise
        except TaskSkipped:
            raise
        except Exception:
            if not self.silent_fail:
                raise
            log.exception(
                "%s: poke failed; silent_fail counts it as not met", self.task_id
            )
            return False, None
        if isinstance(result, PokeReturnValue):
            return result.is_done, result.xcom_value
        return bool(result), None

    def _interval(self, poke_number: int, context: dict[str, Any]) -> timedelta:
        if not self.exponential_backoff:
            return self.poke_interval
        key = f"{self.dag_id}.{self.task_id}.{context.get('run_id')}.{context.get('map_index')}"
        return retry_delay(poke_number, self.poke_interval, exponential_backoff=True,
                           max_delay=self.max_wait, jitter_key=key)

    def _time_out(self, waited: timedelta) -> None:
        message = (f"sensor {self.task_id!r} timed out after {waited.total_seconds():g} s "
                   f"(timeout {self.timeout.total_seconds():g} s)")
        if self.soft_fail:
            raise TaskSkipped(f"soft_fail: {message}")
        raise SensorTimeout(message)


def _duration(value: timedelta | float, name: str, where: str) -> timedelta:
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise DagDefinitionError(f"{where}: {name} must not be negative")
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    raise DagDefinitionError(
        f"{where}: {name} must be a timedelta or a non-negative number of seconds, "
        f"got {value!r}"
    )

