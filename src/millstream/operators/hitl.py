"""Human-in-the-loop operators: a task that asks a person and waits for the answer.

As Airflow 3.1's ``HITLOperator`` family: the task records its request (``subject``,
``body``, ``options``, ``multiple``, ``defaults``, the ``params`` to fill in), calls its
``notifiers`` once, and defers until someone answers with ``millstream tasks respond``
(the answer is kept in the task instance's state store). Its XCom is the answer:
``{"chosen_options": [...], "params_input": {...}, "responded_by": ...}``. Past
``response_timeout`` the ``defaults`` are the answer, or the task fails if there are none.

* :class:`ApprovalOperator`: "Approve" or "Reject"; a rejection skips every task downstream.
* :class:`HITLBranchOperator`: the chosen options (through ``options_mapping``) are the
  downstream tasks to follow; the other direct downstream tasks are skipped.
* :class:`HITLEntryOperator`: a form of ``params`` to fill in, with the one option "OK".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from millstream.authoring.params import Param
from millstream.authoring.task import BaseOperator
from millstream.exceptions import DagDefinitionError, MillstreamError
from millstream.model.graph import relatives
from millstream.model.state_retention import NEVER_EXPIRE
from millstream.operators.skipping import branch_targets, skip_tasks
from millstream.triggerer.triggers.hitl import REQUEST_KEY, HITLResponseTrigger

log = logging.getLogger("millstream.task")


class HITLTimeoutError(MillstreamError):
    """Nobody answered within ``response_timeout`` and the task has no defaults."""


def _option_list(value: str | Sequence[str] | None, what: str, where: str) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(item, str) and item for item in items):
        raise DagDefinitionError(f"{where}: {what} must be non-empty strings, got {value!r}")
    return items


def check_answer(request: Mapping[str, Any], chosen: Sequence[str], where: str) -> list[str]:
    """``chosen`` if it is a valid answer to ``request``, else ValueError saying why."""
    options = list(request["options"])
    chosen = list(chosen)
    bad = [c for c in chosen if c not in options]
    if bad:
        raise ValueError(f"{where}: {bad} not among the options {options}")
    if not chosen:
        raise ValueError(f"{where}: choose at least one of {options}")
    if len(chosen) > 1 and not request["multiple"]:
        raise ValueError(f"{where}: choose one option only (multiple=False), got {chosen}")
    return chosen


class HITLOperator(BaseOperator):
    """Asks a person to choose among ``options`` (and fill in ``params``), then returns
    the answer. See the module docstring."""

    template_fields = ("subject", "body")
    ui_color = "#e8d7f7"

    def __init__(
        self,
        *,
        subject: str,
        options: Sequence[str],
        body: str | None = None,
        defaults: str | Sequence[str] | None = None,
        multiple: bool = False,
        params: Mapping[str, Any] | None = None,
        notifiers: Sequence[Any] | None = None,
        assigned_users: Sequence[Mapping[str, Any]] | None = None,
        response_timeout: timedelta | None = None,
        poke_interval: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(params=dict(params or {}), **kwargs)
        where = f"task {self.task_id!r}"
        if not isinstance(subject, str) or not subject:
            raise DagDefinitionError(f"{where}: subject must be a non-empty string")
        self.options = _option_list(options, "options", where)
        if not self.options or len(set(self.options)) != len(self.options):
            raise DagDefinitionError(f"{where}: options must be a non-empty list of distinct "
                                     f"strings, got {options!r}")
        self.defaults = _option_list(defaults, "defaults", where)
        self.multiple = bool(multiple)
        if self.defaults:
            try:
                check_answer(self.request_fields(), self.defaults, f"{where}: defaults")
            except ValueError as exc:
                raise DagDefinitionError(str(exc)) from None
        if response_timeout is not None and (not isinstance(response_timeout, timedelta)
                                             or response_timeout <= timedelta(0)):
            raise DagDefinitionError(
                f"{where}: response_timeout must be a positive timedelta, got "
                f"{response_timeout!r}")
        notifiers = list(notifiers or [])
        if not all(callable(n) for n in notifiers):
            raise DagDefinitionError(f"{where}: notifiers must be callables taking the "
                                     "context (notifiers)")
        self.subject, self.body = subject, body
        self.notifiers = notifiers
        self.assigned_users = [dict(u) for u in assigned_users or []]
        self.response_timeout = response_timeout
        self.poke_interval = poke_interval

    def request_fields(self) -> dict[str, Any]:
        """What is asked, as it is stored for the person answering."""
        return {"subject": getattr(self, "subject", ""), "body": getattr(self, "body", None),
                "options": self.options, "multiple": self.multiple, "defaults": self.defaults,
                "params": {name: p.default if isinstance(p, Param) and p.has_default else
                           (None if isinstance(p, Param) else p)
                           for name, p in self.params.items()},
                "assigned_users": getattr(self, "assigned_users", [])}

    def execute(self, context: dict[str, Any]) -> Any:
        ti = context["ti"]
        context["task_state_store"].set(REQUEST_KEY, self.request_fields(),
                                        retention=NEVER_EXPIRE)
        for notifier in self.notifiers:
            notifier(context)
        deadline = (datetime.now(UTC) + self.response_timeout
                    if self.response_timeout is not None else None)
        log.info("Waiting for a response to %r: millstream tasks respond %s %s %s --option ...",
                 self.subject, ti.dag_id, ti.run_id, ti.task_id)
        self.defer(trigger=HITLResponseTrigger(ti.dag_id, ti.run_id, ti.task_id, ti.map_index,
                                               deadline, self.poke_interval),
                   method_name="execute_complete")

    def execute_complete(self, context: dict[str, Any], event: Mapping[str, Any]) -> Any:
        if event.get("status") == "responded":
            response = dict(event["response"])
        elif self.defaults:
            log.info("No response within %s: taking the defaults %s", self.response_timeout,
                     self.defaults)
            response = {"chosen_options": list(self.defaults),
                        "params_input": self.request_fields()["params"], "responded_by": None}
        else:
            raise HITLTimeoutError(f"task {self.task_id!r}: no response within "
                                   f"{self.response_timeout} and no defaults")
        check_answer(self.request_fields(), response["chosen_options"], f"task {self.task_id!r}")
        return self.process_response(context, response)

    def process_response(self, context: dict[str, Any], response: dict[str, Any]) -> Any:
        """What the task does with the answer; the answer is its return value (XCom)."""
        return response

    @classmethod
    def generate_link_to_ui_from_context(cls, context: Mapping[str, Any],
                                         base_url: str | None = None) -> str:
        """The web UI page of the task instance waiting for the answer."""
        ti = context["ti"]
        path = ti.log_url if hasattr(ti, "log_url") else ""
        if base_url and path.startswith("/"):
            return base_url.rstrip("/") + path
        return path


class ApprovalOperator(HITLOperator):
    """"Approve" or "Reject": a rejection skips every task downstream."""

    APPROVE, REJECT = "Approve", "Reject"

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        if "options" in kwargs:
            raise DagDefinitionError("ApprovalOperator: its options are Approve and Reject")
        super().__init__(options=[self.APPROVE, self.REJECT], multiple=False, **kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def process_response(self, context: dict[str, Any], response: dict[str, Any]) -> Any:
        if response["chosen_options"] == [self.REJECT]:
            dag = self.dag
            everything = (relatives(dag.task_dict, self.task_id) if dag is not None and
                          self.ignore_downstream_trigger_rules else self.downstream_task_ids)
            log.info("Rejected: skipping %s", sorted(everything))
            skip_tasks(context, everything)
        return response


class HITLBranchOperator(HITLOperator):
    """The chosen options name the downstream tasks to follow (``options_mapping``
    translates an option to a task id); the other direct downstream tasks are skipped."""

    def __init__(self, *, options_mapping: Mapping[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options_mapping = dict(options_mapping or {})
        unknown = sorted(set(self.options_mapping) - set(self.options))
        if unknown:
            raise DagDefinitionError(f"task {self.task_id!r}: options_mapping names "
                                     f"options that are not options: {unknown}")

    def process_response(self, context: dict[str, Any], response: dict[str, Any]) -> Any:
        chosen = [self.options_mapping.get(o, o) for o in response["chosen_options"]]
        follow = branch_targets(context, chosen)
        skip_tasks(context, self.downstream_task_ids - follow)
        return response


class HITLEntryOperator(HITLOperator):
    """A form of ``params`` to fill in; its one option is "OK"."""

    def __init__(self, *, options: Sequence[str] | None = None,
                 defaults: str | Sequence[str] | None = None, **kwargs: Any) -> None:
        options = list(options) if options is not None else ["OK"]
        if defaults is None and options == ["OK"]:
            defaults = ["OK"]
        super().__init__(options=options, defaults=defaults, **kwargs)


__all__ = ["ApprovalOperator", "HITLBranchOperator", "HITLEntryOperator", "HITLOperator",
           "HITLTimeoutError", "check_answer"]
