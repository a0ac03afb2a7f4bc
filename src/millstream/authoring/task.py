"""BaseOperator: one task of a DAG, its run settings, defaults and templated fields."""

from __future__ import annotations

import copy
import functools
import inspect
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from millstream.authoring.assets import validate_outlets
from millstream.authoring.dag import DAG, checked_identifier, current_dag
from millstream.authoring.dependencies import DependencyMixin
from millstream.authoring.group_decorator import mapped_group_input
from millstream.authoring.priority import is_strategy, strategy_weight
from millstream.authoring.retry_policy import check_retry_policy
from millstream.authoring.setup_teardown import SetupTeardownScope, mark_setup, mark_teardown
from millstream.authoring.taskgroup import TaskGroup, current_task_group
from millstream.authoring.xcom_arg import wire_upstream
from millstream.exceptions import (
    DagDefinitionError,
    TaskDeferralError,
    TaskDeferralTimeout,
    TaskDeferred,
)
from millstream.model.graph import relatives
from millstream.model.identifiers import Identifier
from millstream.model.intervals import ensure_utc
from millstream.model.trigger_rules import TriggerRule

if TYPE_CHECKING:
    from millstream.authoring.mapping import OperatorPartial
    from millstream.authoring.xcom_arg import XComArg

DEFAULT_POOL = "default_pool"
DEFAULT_QUEUE = "default"
DEFAULT_RETRY_DELAY = timedelta(minutes=5)
MAX_RETRY_DELAY = timedelta(hours=24)
WEIGHT_RULES = ("downstream", "upstream", "absolute")


@functools.cache
def _init_parameters(cls: type) -> frozenset[str]:
    """Keyword names accepted by the __init__ of ``cls`` and its bases."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for name, parameter in inspect.signature(init).parameters.items():
            if parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
                names.add(name)
    names.discard("self")
    return frozenset(names)


@functools.cache
def _signature(init: Callable[..., None]) -> inspect.Signature:
    return inspect.signature(init)


def _call_checked(
    init: Callable[..., None],
    task: BaseOperator,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    dag: DAG | None,
) -> None:
    """Call ``init``; a DagDefinitionError naming DAG, task and arguments if it cannot take
    them.

    A misspelt required argument (``bash_comand=``) would otherwise be a bare TypeError.
    Python refuses such a call before the body runs, so the arguments are checked against
    the signature only once a call has raised: a TypeError the body raised is the body's.
    """
    try:
        init(task, *args, **kwargs)
    except TypeError:
        try:
            _signature(init).bind(task, *args, **kwargs)
        except TypeError as exc:
            task_id = kwargs.get("task_id")
            where = f"DAG {dag.dag_id!r}, task {task_id!r}" if dag else f"task {task_id!r}"
            problem = f"{type(task).__name__}: {exc}"
            unknown = sorted(set(kwargs) - _init_parameters(type(task)))
            if unknown:
                problem += f" (unknown arguments: {', '.join(unknown)})"
            raise DagDefinitionError(f"{where}: {problem}") from None
        raise


def _apply_defaults(init: Callable[..., None]) -> Callable[..., None]:
    """Wrap an operator's __init__ so that DAG and group default_args fill unset arguments."""

    @functools.wraps(init)
    def wrapper(self: BaseOperator, *args: Any, **kwargs: Any) -> None:
        if getattr(self, "_defaults_applied", False):  # a subclass's super().__init__()
            _call_checked(init, self, args, kwargs, kwargs.get("dag") or current_dag())
            return
        self._defaults_applied = True
        dag = kwargs.get("dag") or current_dag()
        group = kwargs.get("task_group") or current_task_group()
        merged: dict[str, Any] = {}
        if dag is not None:
            merged.update(dag.default_args)
        if group is not None:
            merged.update(group.merged_default_args())
        merged.update(kwargs.pop("default_args", None) or {})
        accepted = _init_parameters(type(self))
        for key, value in merged.items():
            if key in accepted and key not in kwargs:
                kwargs[key] = value
        if "params" in merged and "params" in kwargs and kwargs["params"] is not merged["params"]:
            kwargs["params"] = {**merged["params"], **kwargs["params"]}
        _call_checked(init, self, args, kwargs, dag)
        if self.dag is not None:
            # an XComArg in a templated field (op_kwargs, bash_command ...) is an upstream
            wire_upstream(self, *(getattr(self, name, None) for name in self.template_fields))

    return wrapper


class BaseOperator(DependencyMixin):
    """One unit of work in a DAG. Subclasses implement :meth:`execute`.

    Every keyword accepted here may also come from the DAG's (or task group's)
    ``default_args``. ``template_fields`` names the attributes rendered with Jinja
    before ``execute`` runs; values ending in one of ``template_ext`` are read from
    a template file instead.
    """

    template_fields: ClassVar[Sequence[str]] = ()
    template_ext: ClassVar[Sequence[str]] = ()
    ui_color: ClassVar[str] = "#ffffff"
    is_mapped: ClassVar[bool] = False
    is_setup: bool = False
    is_teardown: bool = False
    on_failure_fail_dagrun: bool = False  # a teardown's failure fails the run only if set
    # checks run just before execute(); each may raise TaskSkipped (@task.run_if, skip_if)
    run_conditions: Sequence[Callable[[dict[str, Any]], None]] = ()
    _defaults_applied: bool
    _scopes: list[SetupTeardownScope]
    _pre_execute_hook: Callable[[dict[str, Any]], Any] | None = None
    _post_execute_hook: Callable[[dict[str, Any], Any], Any] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__ and cls.__dict__.get("_wrap_init_with_defaults", True):
            cls.__init__ = _apply_defaults(cls.__dict__["__init__"])  # type: ignore[misc]

    def __init__(
        self,
        *,
        task_id: str,
        owner: str = "millstream",
        email: str | Sequence[str] | None = None,
        email_on_failure: bool = True,
        email_on_retry: bool = True,
        retries: int = 0,
        retry_delay: timedelta | float = DEFAULT_RETRY_DELAY,
        retry_exponential_backoff: bool = False,
        max_retry_delay: timedelta | float | None = None,
        retry_policy: Any = None,
        execution_timeout: timedelta | float | None = None,
        trigger_rule: str | TriggerRule = TriggerRule.ALL_SUCCESS,
        pool: str = DEFAULT_POOL,
        pool_slots: int = 1,
        priority_weight: int = 1,
        weight_rule: str | Any = "downstream",
        queue: str = DEFAULT_QUEUE,
        depends_on_past: bool = False,
        wait_for_downstream: bool = False,
        sla: timedelta | None = None,
        on_execute_callback: Callable[..., Any] | None = None,
        on_success_callback: Callable[..., Any] | None = None,
        on_failure_callback: Callable[..., Any] | None = None,
        on_retry_callback: Callable[..., Any] | None = None,
        doc_md: str | None = None,
        doc: str | None = None,
        params: dict[str, Any] | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        do_xcom_push: bool = True,
        multiple_outputs: bool = False,
        max_active_tis_per_dag: int | None = None,
        outlets: Sequence[Any] | None = None,
        inlets: Sequence[Any] | None = None,
        executor_config: dict[str, Any] | None = None,
        map_index_template: str | None = None,
        task_display_name: str | None = None,
        pre_execute: Callable[[dict[str, Any]], Any] | None = None,
        post_execute: Callable[[dict[str, Any], Any], Any] | None = None,
        dag: DAG | None = None,
        task_group: TaskGroup | None = None,
        **unknown: Any,
    ) -> None:
        self._defaults_applied = True
        dag = dag or current_dag()
        group = task_group or current_task_group()
        if group is not None and group.dag is not dag and dag is not None:
            group = None
        where = f"DAG {dag.dag_id!r}, task {task_id!r}" if dag else f"task {task_id!r}"
        if unknown:
            raise DagDefinitionError(
                f"{where}: {type(self).__name__} got unknown arguments: "
                f"{', '.join(sorted(unknown))}"
            )
        if not isinstance(task_id, str) or not task_id:
            raise DagDefinitionError(f"{where}: task_id must be a non-empty string")
        if group is not None and not self.is_mapped and mapped_group_input(group) is not None:
            raise DagDefinitionError(
                f"{where}: {type(self).__name__} inside a mapped task group: only @task "
                "functions can be mapped with their group; map this operator itself with "
                ".partial().expand() instead"
            )
        self.task_group = group
        full_id = group.child_id(task_id) if group is not None else task_id
        self.task_id = checked_identifier(full_id, Identifier.TASK, f"{where}: task_id")
        where = f"DAG {dag.dag_id!r}, task {self.task_id!r}" if dag else f"task {self.task_id!r}"
        try:
            self.trigger_rule = TriggerRule.parse(trigger_rule)
        except ValueError as exc:
            raise DagDefinitionError(f"{where}: {exc}") from None
        if not isinstance(retries, int) or retries < 0:
            raise DagDefinitionError(f"{where}: retries must be a non-negative integer")
        if not isinstance(pool_slots, int) or pool_slots < 1:
            raise DagDefinitionError(f"{where}: pool_slots must be a positive integer")
        self.weight_strategy: Any = None
        if is_strategy(weight_rule):
            # a custom strategy: asked once, here; the task keeps its answer as absolute
            self.weight_strategy = weight_rule
            priority_weight = strategy_weight(weight_rule, self, where)
            weight_rule = "absolute"
        if weight_rule not in WEIGHT_RULES:
            raise DagDefinitionError(
                f"{where}: unknown weight_rule {weight_rule!r}; expected one of {WEIGHT_RULES}"
            )
        self.owner = owner
        self.email = email
        self.email_on_failure = email_on_failure
        self.email_on_retry = email_on_retry
        self.retries = retries
        self.retry_delay = _as_timedelta(retry_delay, "retry_delay", where)
        self.retry_exponential_backoff = retry_exponential_backoff
        self.max_retry_delay = _as_timedelta(max_retry_delay, "max_retry_delay", where)
        self.retry_policy = check_retry_policy(retry_policy, where)
        self.execution_timeout = _as_timedelta(execution_timeout, "execution_timeout", where)
        self.pool = pool
        self.pool_slots = pool_slots
        self.priority_weight = priority_weight
        self.weight_rule = weight_rule
        self.queue = queue
        self.depends_on_past = depends_on_past or wait_for_downstream
        self.wait_for_downstream = wait_for_downstream
        self.sla = sla
        self.on_execute_callback = on_execute_callback
        self.on_success_callback = on_success_callback
        self.on_failure_callback = on_failure_callback
        self.on_retry_callback = on_retry_callback
        self.doc_md = doc_md
        self.doc = doc
        self.params = dict(params or {})
        self.start_date = ensure_utc(start_date) if start_date else None
        self.end_date = ensure_utc(end_date) if end_date else None
        self.do_xcom_push = do_xcom_push
        self.multiple_outputs = multiple_outputs
        self.max_active_tis_per_dag = max_active_tis_per_dag
        self.outlets = validate_outlets(outlets, where)  # the Assets a success updates
        self.inlets = list(inlets or [])
        self.executor_config = dict(executor_config or {})
        # Airflow names mapped instances with it; kept, instances show as task_id[index]
        self.map_index_template = map_index_template
        self.task_display_name = task_display_name or None
        self._pre_execute_hook = pre_execute
        self._post_execute_hook = post_execute
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()
        self.dag: DAG | None = None
        if dag is not None:
            self.attach_to_dag(dag)
        if group is not None:
            group.add(self)

    # -- DAG membership -------------------------------------------------------------------
    def attach_to_dag(self, dag: DAG) -> None:
        """Put this task in ``dag`` (once); a second, different DAG is an error."""
        if self.dag is dag:
            return
        if self.dag is not None:
            raise DagDefinitionError(
                f"task {self.task_id!r} already belongs to DAG {self.dag.dag_id!r}"
            )
        dag.add_task(self)
        self.dag = dag

    @property
    def dag_id(self) -> str | None:
        return self.dag.dag_id if self.dag else None

    @property
    def log(self) -> logging.Logger:
        """A logger for the task's own messages (``self.log.info(...)``), in the task's log."""
        return logging.getLogger(f"millstream.task.{type(self).__name__}")

    @property
    def dependency_roots(self) -> list[BaseOperator]:
        return [self]

    @property
    def dependency_leaves(self) -> list[BaseOperator]:
        return [self]

    @property
    def upstream_list(self) -> list[BaseOperator]:
        assert self.dag is not None
        return [self.dag.task_dict[t] for t in sorted(self.upstream_task_ids)]

    @property
    def downstream_list(self) -> list[BaseOperator]:
        assert self.dag is not None
        return [self.dag.task_dict[t] for t in sorted(self.downstream_task_ids)]

    def get_flat_relative_ids(self, upstream: bool = False) -> set[str]:
        """Ids of every task reachable downstream (or upstream) of this one."""
        assert self.dag is not None
        return relatives(self.dag.task_dict, self.task_id, upstream)  # type: ignore[arg-type]

    # -- setup and teardown ----------------------------------------------------------------
    def as_setup(self) -> BaseOperator:
        """Mark this task as a setup task (see :mod:`millstream.authoring.setup_teardown`)."""
        mark_setup(self)
        return self

    def as_teardown(self, setups: Any = None,
                    on_failure_fail_dagrun: bool | None = None) -> BaseOperator:
        """Mark this task as the teardown of ``setups``, which are wired upstream of it.

        It runs once its upstream tasks are done, even if they failed, when one of its
        setups succeeded; its failure fails the run only with ``on_failure_fail_dagrun``.
        """
        mark_teardown(self, setups, on_failure_fail_dagrun)
        return self

    def __enter__(self) -> BaseOperator:
        """``with teardown:`` puts the tasks created inside between its setups and it."""
        scope = SetupTeardownScope(self)
        scope.__enter__()
        self._scopes = [*getattr(self, "_scopes", []), scope]
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        scopes = self._scopes
        scopes.pop().__exit__(exc_type, exc, tb)

    # -- data passing ------------------------------------------------------------------------
    @property
    def output(self) -> XComArg:
        """This task's return value, as an argument for other tasks."""
        from millstream.authoring.xcom_arg import XComArg

        return XComArg(self)

    @classmethod
    def partial(cls, **kwargs: Any) -> OperatorPartial:
        """Fix the arguments shared by every mapped instance; follow with ``.expand()``."""
        from millstream.authoring.mapping import OperatorPartial

        return OperatorPartial(cls, kwargs)

    # -- running -------------------------------------------------------------------------
    def execute(self, context: dict[str, Any]) -> Any:
        """Do the task's work; the return value is pushed to XCom as ``return_value``."""
        raise NotImplementedError(f"{type(self).__name__} must implement execute()")

    def pre_execute(self, context: dict[str, Any]) -> None:
        """Called just before :meth:`execute`: checks the task's run conditions, then calls
        the ``pre_execute=`` hook given to the task, if any."""
        for condition in self.run_conditions:
            condition(context)
        if self._pre_execute_hook is not None:
            self._pre_execute_hook(context)

    def post_execute(self, context: dict[str, Any], result: Any = None) -> None:
        """Called just after :meth:`execute` succeeded: the ``post_execute=`` hook, if any."""
        if self._post_execute_hook is not None:
            self._post_execute_hook(context, result)

    def render_template(self, content: Any, context: dict[str, Any]) -> Any:
        """``content`` (a string, or strings nested in lists and dicts) rendered with Jinja
        and ``context``, as this task's templated fields are."""
        from millstream.authoring.templating import render_value, template_environment

        return render_value(content, context, template_environment(self.dag),
                            tuple(self.template_ext))

    def defer(
        self,
        *,
        trigger: Any,
        method_name: str,
        kwargs: dict[str, Any] | None = None,
        timeout: timedelta | float | None = None,
    ) -> NoReturn:
        """Suspend this task until ``trigger`` (a ``BaseTrigger``) fires, freeing its slot.

        The triggerer runs the trigger; its event resumes the task, in the same try, by
        calling ``method_name(context, event=payload, **kwargs)``. Past ``timeout`` the
        task fails (``TaskDeferralTimeout``) instead.
        """
        if not callable(getattr(self, method_name, None)):
            raise TypeError(f"task {self.task_id!r}: defer(method_name={method_name!r}) "
                            f"names no method of {type(self).__name__}")
        where = f"task {self.task_id!r}"
        raise TaskDeferred(trigger=trigger, method_name=method_name, kwargs=kwargs,
                           timeout=_as_timedelta(timeout, "defer timeout", where))

    def resume_execution(
        self, next_method: str, next_kwargs: dict[str, Any] | None, context: dict[str, Any]
    ) -> Any:
        """Continue a deferred task: call the method its deferral named.

        ``__fail__`` is the triggerer's word that the trigger failed or timed out.
        """
        kwargs = dict(next_kwargs or {})
        if next_method == "__fail__":
            error = kwargs.get("error", "the trigger failed")
            trace = kwargs.get("traceback")
            if kwargs.get("timeout"):
                raise TaskDeferralTimeout(error)
            raise TaskDeferralError(f"{error}\n{trace}" if trace else error)
        return getattr(self, next_method)(context, **kwargs)

    def prepare_for_run(self) -> BaseOperator:
        """A shallow copy whose templated fields can be rendered without touching the DAG."""
        return copy.copy(self)

    def __repr__(self) -> str:
        return f"<Task({type(self).__name__}): {self.task_id}>"


BaseOperator.__init__ = _apply_defaults(BaseOperator.__init__)  # type: ignore[method-assign]


def _as_timedelta(value: timedelta | float | None, name: str, where: str) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        if isinstance(value, timedelta) and value < timedelta(0):
            raise DagDefinitionError(f"{where}: {name} must not be negative")
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    raise DagDefinitionError(f"{where}: {name} must be a timedelta or a number of seconds")
