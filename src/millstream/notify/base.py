"""What an alert says about a task try or a DAG run, and the callable base of notifiers."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from millstream.exceptions import MillstreamError

log = logging.getLogger("millstream.notify")


class NotificationError(MillstreamError):
    """A notification could not be delivered; the message names where it was going."""


def alert_fields(context: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-ready facts of a callback's context: DAG, task, run, try, state, error, log link.

    Works for task callbacks (``ti`` present) and DAG callbacks (``dag_run`` and
    ``reason`` only); what a context lacks is None. Secrets in the error are ***.
    """
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    run = context.get("dag_run")
    exception = context.get("exception")
    logical = context.get("logical_date") or getattr(run, "logical_date", None)
    state = getattr(ti, "state", None) if ti is not None else getattr(run, "state", None)
    max_tries = getattr(ti, "max_tries", None)
    error = None
    if exception is not None:
        error = redact_text(f"{type(exception).__name__}: {exception}")
    return {
        "dag_id": getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None)
        or getattr(run, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": getattr(ti, "run_id", None) or context.get("run_id")
        or getattr(run, "run_id", None),
        "map_index": getattr(ti, "map_index", None),
        "try_number": getattr(ti, "try_number", None),
        "max_tries": None if max_tries is None else max_tries + 1,  # tries in all
        "state": None if state is None else str(state),
        "logical_date": logical.isoformat() if isinstance(logical, datetime) else None,
        "error": error,
        "exception_type": type(exception).__name__ if exception is not None else None,
        "reason": context.get("reason"),
        "log_url": _log_url(ti),
    }


def error_traceback(context: Mapping[str, Any]) -> str | None:
    """The traceback of the context's exception, if it has one."""
    exception = context.get("exception")
    if not isinstance(exception, BaseException):
        return None
    return redact_text("".join(traceback.format_exception(exception)).rstrip())


def redact_text(text: str) -> str:
    """``text`` with the secrets this process has seen (connection passwords ...) as ***."""
    from millstream.secrets.masking import redact_text as redact

    return redact(text)


def _log_url(ti: Any) -> str | None:
    if ti is None:
        return None
    try:
        url = ti.log_url
    except Exception:  # a missing link must not stop the alert itself
        log.warning("no log link for %r", ti, exc_info=True)
        return None
    return str(url) if url else None


def where(fields: Mapping[str, Any]) -> str:
    """``dag.task (run r, try n)`` for log lines."""
    name = fields["dag_id"] if fields["task_id"] is None else (
        f"{fields['dag_id']}.{fields['task_id']}")
    parts = [f"run {fields['run_id']}"]
    if fields["try_number"] is not None:
        parts.append(f"try {fields['try_number']}")
    return f"{name} ({', '.join(parts)})"


def render(template: str, context: Mapping[str, Any]) -> str:
    """A Jinja template string rendered with the callback's context."""
    if "{{" not in template and "{%" not in template:
        return template
    import jinja2

    rendered = jinja2.Environment(autoescape=False).from_string(template).render(**context)
    return redact_text(rendered)


_failures = 0  # notifications that could not be delivered, in this process


def quietly_failed(function: Any, *args: Any) -> bool:
    """Call a callback; True if a notifier could not deliver meanwhile (a notifier logs
    that instead of raising, so its caller counts it as a failed callback). What the
    callback raises propagates."""
    before = _failures
    function(*args)
    return _failures != before


class BaseNotifier:
    """A callable for ``on_failure_callback``, ``on_retry_callback``, ``on_success_callback``
    (of a task or a DAG): ``notifier(context)`` sends one notification.

    Subclasses implement :meth:`notify`, which raises if delivery fails; calling the
    notifier logs such a failure instead, so a broken notification never changes how
    the task or run ends.
    """

    @property
    def log(self) -> logging.Logger:
        """A logger for the notifier's own messages (as operators and hooks have)."""
        return logging.getLogger(f"millstream.notify.{type(self).__name__}")

    def notify(self, context: Mapping[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement notify()")

    def __call__(self, context: Mapping[str, Any]) -> None:
        try:
            self.notify(context)
        except Exception:
            global _failures
            _failures += 1
            try:
                about = where(alert_fields(context))
            except Exception:
                about = "a callback"
            log.exception("%s could not notify about %s", type(self).__name__, about)


__all__ = ["BaseNotifier", "NotificationError", "alert_fields", "error_traceback",
           "quietly_failed", "redact_text", "render"]
