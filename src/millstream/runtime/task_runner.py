"""Runs one try of one task instance and reports how it ended."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from millstream import observability
from millstream.authoring.context import set_current_context
from millstream.authoring.mapping import MappedOperator
from millstream.authoring.templating import render_template_fields
from millstream.exceptions import (
    TaskDeferred,
    TaskRescheduled,
    TaskSkipped,
    TaskTimeout,
)
from millstream.model.states import TaskState
from millstream.notify.base import quietly_failed
from millstream.runtime.context import RuntimeTaskInstance, build_context
from millstream.runtime.events import TaskDeferral, TaskFinishedEvent
from millstream.runtime.retry_decision import failed_try_outcome
from millstream.runtime.timeout import execution_timeout
from millstream.runtime.xcom import encode_xcom
from millstream.triggerer.base import serialize_trigger
from millstream.triggerer.serde import decode, encode

if TYPE_CHECKING:
    from millstream.authoring.task import BaseOperator
    from millstream.runtime.events import TaskWorkload
    from millstream.runtime.xcom import XComReader

log = logging.getLogger("millstream.task")


def run_task_try(
    task: BaseOperator,
    workload: TaskWorkload,
    reader: XComReader,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_rendered: Callable[[BaseOperator], None] | None = None,
) -> TaskFinishedEvent:
    """Run ``task`` for ``workload`` in this process; never raises for a task's own failure.

    ``on_rendered`` sees the task once its templated fields are rendered (the UI shows them).
    """
    start = clock()
    observed = observability.start_try(workload)
    ti = RuntimeTaskInstance(task, workload, reader)
    # A rescheduled sensor's try began at its first poke (its timeout counts from there).
    ti.start_date = workload.first_start_date or start
    context = build_context(task, workload.run, ti, workload.params)
    state = TaskState.SUCCESS
    error: str | None = None
    reschedule_date: datetime | None = None
    deferral: TaskDeferral | None = None
    retry_delay_s: float | None = None
    try:
        if isinstance(task, MappedOperator):
            task = task.unmap(workload.key.map_index, context)
        task = task.prepare_for_run()
        ti.task = task
        context["task"] = task
        render_template_fields(task, context)
        if on_rendered is not None:
            on_rendered(task)
        _call(task.on_execute_callback, context, "on_execute_callback", task.task_id)
        timeout = task.execution_timeout.total_seconds() if task.execution_timeout else None
        with set_current_context(context), execution_timeout(timeout, task.task_id):
            if workload.next_method is None:  # a resumed deferral passed its checks already
                task.pre_execute(context)
            result = _execute(task, context, workload)
            task.post_execute(context, result)
        _push_result(task, ti, result)
    except TaskSkipped as exc:
        state = TaskState.SKIPPED
        log.info("Task %s skipped: %s", task.task_id, exc)
    except TaskRescheduled as exc:
        state, reschedule_date = TaskState.UP_FOR_RESCHEDULE, exc.reschedule_date
        log.info("Task %s rescheduled: next poke at %s", task.task_id,
                 reschedule_date.isoformat())
    except TaskDeferred as exc:
        try:
            deferral = _deferral(exc, clock())
            state = TaskState.DEFERRED
            log.info("Task %s deferred: %s, resuming in %s()", task.task_id, exc.trigger,
                     exc.method_name)
        except (TypeError, ValueError) as bad:  # a trigger that cannot be stored
            state, error = TaskState.FAILED, _describe(bad)
            log.error("Task %s cannot defer: %s", task.task_id, error)
    except Exception as exc:  # a task's failure is an outcome, not a crash of the runner
        error = _describe(exc)
        state, retry_delay_s = failed_try_outcome(task, exc, workload.try_number,
                                                  workload.max_tries, context)
        log.error("Task %s failed (try %d): %s", task.task_id, workload.try_number, error)
        context["exception"] = exc
    end = clock()
    ti.state = state.value  # callbacks see how the try ended, and how long it took
    ti.end_date = end
    ti.duration = (end - start).total_seconds()
    if state is TaskState.SUCCESS:
        _call(task.on_success_callback, context, "on_success_callback", task.task_id)
    elif state is TaskState.UP_FOR_RETRY:
        _call(task.on_retry_callback, context, "on_retry_callback", task.task_id)
    elif state is TaskState.FAILED:
        _call(task.on_failure_callback, context, "on_failure_callback", task.task_id)
    if state in (TaskState.FAILED, TaskState.UP_FOR_RETRY) and task.email:
        _call(_email_alert, context, "alert e-mail", task.task_id)
    skip = tuple(sorted(ti.skip_requests)) if state is TaskState.SUCCESS else ()
    return TaskFinishedEvent(
        key=workload.key,
        try_number=workload.try_number,
        state=state,
        start_date=start,
        end_date=end,
        error=error,
        xcoms=tuple(ti.pushed.items()) if state is TaskState.SUCCESS else (),
        skip_task_ids=skip,
        reschedule_date=reschedule_date,
        deferral=deferral,
        step_id=workload.step_id,
        metrics=observability.end_try(observed),
        retry_delay_s=retry_delay_s,
    )


def _deferral(request: TaskDeferred, now: datetime) -> TaskDeferral:
    """The stored form of a deferral request; TypeError if its trigger or kwargs are not
    storable."""
    classpath, kwargs = serialize_trigger(request.trigger)
    timeout = request.timeout
    return TaskDeferral(
        classpath=classpath,
        trigger_kwargs=kwargs,
        next_method=request.method_name,
        next_kwargs=encode(request.kwargs, f"defer(kwargs) of {request.method_name}()"),
        timeout=now + timeout if timeout is not None else None,
    )


class TaskExited(RuntimeError):
    """A task called ``sys.exit()`` with a failure code."""


def _execute(task: BaseOperator, context: dict[str, Any], workload: TaskWorkload) -> Any:
    """``task.execute`` (or, resuming a deferral, the method it named), where
    ``sys.exit(0)`` is a success and any other exit a failure."""
    try:
        if workload.next_method is not None:
            kwargs = decode(workload.next_kwargs or {})
            return task.resume_execution(workload.next_method, kwargs, context)
        return task.execute(context)
    except SystemExit as exc:
        if exc.code in (0, None):
            return None
        raise TaskExited(f"task {task.task_id!r} exited with SystemExit({exc.code!r})") from None


def _push_result(task: BaseOperator, ti: RuntimeTaskInstance, result: Any) -> None:
    if not task.do_xcom_push or result is None:
        return
    if task.multiple_outputs:
        if not isinstance(result, dict):
            raise TypeError(
                f"task {task.task_id!r} has multiple_outputs=True but returned "
                f"{type(result).__name__}, not a dict"
            )
        for key, value in result.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"task {task.task_id!r}: multiple_outputs keys must be strings, got {key!r}"
                )
            ti.pushed[key] = encode_xcom(value, task.task_id, key)
    ti.pushed["return_value"] = encode_xcom(result, task.task_id, "return_value")


def _describe(exc: BaseException) -> str:
    summary = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TaskTimeout):
        return summary
    return summary + "\n" + "".join(traceback.format_exception(exc)).rstrip()


def _email_alert(context: dict[str, Any]) -> None:
    """The failure or retry e-mail that the task's email_on_failure / email_on_retry ask for."""
    from millstream.notify.email import send_task_alert_email

    send_task_alert_email(context)


def _call(callbacks: Any, context: dict[str, Any], name: str, task_id: str) -> None:
    """Run a callback (or a list of them); a failing callback is logged, never propagated."""
    if not callbacks:
        return
    for callback in callbacks if isinstance(callbacks, list | tuple) else [callbacks]:
        dag_id = getattr(context.get("dag"), "dag_id", "")
        try:
            if quietly_failed(callback, context):  # a notifier (it logged why)
                observability.callback_failed(dag_id, name)
        except Exception:
            log.exception("%s of task %s failed", name, task_id)
            observability.callback_failed(dag_id, name)
