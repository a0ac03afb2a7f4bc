"""The DAG: a named graph of tasks with its schedule, defaults and callbacks."""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from millstream.authoring.assets import Asset, asset_schedule
from millstream.authoring.dag_test import DagTestOutcome, dag_test_runner
from millstream.authoring.params import Param, ParamsDict
from millstream.authoring.timetables import as_schedule
from millstream.exceptions import (
    DagCycleError,
    DagDefinitionError,
    DuplicateTaskIdError,
    InvalidInputError,
)
from millstream.model.identifiers import Identifier, check_identifier, identifier_rule
from millstream.model.intervals import Schedule, ensure_utc

if TYPE_CHECKING:
    from millstream.authoring.task import BaseOperator
    from millstream.authoring.taskgroup import TaskGroup

DAG_ID_PATTERN = re.compile(identifier_rule(Identifier.DAG).pattern)


def checked_identifier(value: object, kind: Identifier, where: str) -> str:
    """``value`` if it is a valid identifier of ``kind``, else a DagDefinitionError that
    says where it was given and what is wrong with it."""
    try:
        return check_identifier(value, kind)
    except InvalidInputError as exc:
        raise DagDefinitionError(f"{where}: {exc}") from None
_UNSET: Any = object()

_dag_stack: list[DAG] = []
# One list per DAG file being imported (nested when a DAG file imports another): the DAGs
# whose `with` block closed meanwhile, registered as Airflow 2.4+ does ("auto-register").
_registries: list[list[DAG]] = []
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def current_dag() -> DAG | None:
    """The DAG whose ``with`` block is open, if any."""
    return _dag_stack[-1] if _dag_stack else None


@contextlib.contextmanager
def registering_dags() -> Iterator[list[DAG]]:
    """Collect the DAGs registered while the block runs (the loader wraps a file's import).

    A DAG registers itself when its ``with`` block ends without error (a ``@dag`` call
    builds its DAG in one), unless it was made with ``auto_register=False``: so a DAG
    made in a loop, in a function, or without ``as`` is found without a module-level name.
    """
    found: list[DAG] = []
    _registries.append(found)
    try:
        yield found
    finally:
        _registries.remove(found)


class DAG:
    """A pipeline: tasks, the dependencies between them, and when to run them.

    Use it as a context manager (``with DAG("sales_etl", schedule="@daily") as dag:``) or
    through the ``@dag`` decorator. Definition errors (bad ids, bad schedules, cycles,
    duplicate task ids) raise :class:`DagDefinitionError` naming the DAG and tasks.

    As in Airflow, ``catchup`` left out takes the ``scheduler.catchup_by_default`` setting
    (false unless set), and ``is_paused_upon_creation`` left out lets the scheduler's
    ``core.dags_are_paused_at_creation`` setting decide whether a new DAG starts paused.
    """

    def __init__(
        self,
        dag_id: str,
        description: str | None = None,
        schedule: str | timedelta | Schedule | Asset | list[Asset] | None = _UNSET,
        schedule_interval: str | timedelta | Schedule | None = _UNSET,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        catchup: bool | None = None,
        default_args: dict[str, Any] | None = None,
        tags: Iterable[str] | None = None,
        max_active_runs: int = 16,
        max_active_tasks: int = 16,
        dagrun_timeout: timedelta | None = None,
        doc_md: str | None = None,
        params: dict[str, Any] | None = None,
        on_success_callback: Callable[..., Any] | None = None,
        on_failure_callback: Callable[..., Any] | None = None,
        sla_miss_callback: Callable[..., Any] | None = None,
        template_searchpath: str | Iterable[str] | None = None,
        user_defined_macros: dict[str, Any] | None = None,
        user_defined_filters: dict[str, Callable[..., Any]] | None = None,
        is_paused_upon_creation: bool | None = None,
        fileloc: str | None = None,
        auto_register: bool = True,
        dag_display_name: str | None = None,
        max_consecutive_failed_dag_runs: int = 0,
        render_template_as_native_obj: bool = False,
        template_undefined: type | None = None,
        jinja_environment_kwargs: dict[str, Any] | None = None,
        owner_links: dict[str, str] | None = None,
        access_control: dict[str, Any] | None = None,
        fail_fast: bool = False,
        disable_bundle_versioning: bool = False,
        deadline: Any = None,
    ) -> None:
        self.dag_id = checked_identifier(dag_id, Identifier.DAG, "invalid dag_id")
        self.description = description
        if schedule is not _UNSET and schedule_interval is not _UNSET:
            raise DagDefinitionError(
                f"DAG {dag_id!r}: give either schedule or schedule_interval, not both"
            )
        raw_schedule = schedule if schedule is not _UNSET else schedule_interval
        if raw_schedule is _UNSET:
            raw_schedule = None
        try:
            # A list of Assets: runs come from asset events, not from the clock.
            self.timetable: Schedule = asset_schedule(raw_schedule) or as_schedule(raw_schedule)
        except ValueError as exc:
            raise DagDefinitionError(f"DAG {dag_id!r}: bad schedule: {exc}") from exc
        self.schedule = raw_schedule
        self.default_args: dict[str, Any] = dict(default_args or {})
        start = start_date if start_date is not None else self.default_args.get("start_date")
        self.start_date = ensure_utc(start) if start is not None else None
        end = end_date if end_date is not None else self.default_args.get("end_date")
        self.end_date = ensure_utc(end) if end is not None else None
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise DagDefinitionError(f"DAG {dag_id!r}: end_date is before start_date")
        # Airflow's rule: a DAG that does not say takes scheduler.catchup_by_default.
        self.catchup_given = catchup is not None
        self.catchup: bool = catchup if catchup is not None else _catchup_by_default()
        self.tags: list[str] = list(tags or [])
        for name, value in (("max_active_runs", max_active_runs),
                            ("max_active_tasks", max_active_tasks)):
            if not isinstance(value, int) or value < 1:
                raise DagDefinitionError(f"DAG {dag_id!r}: {name} must be a positive integer")
        self.max_active_runs = max_active_runs
        self.max_active_tasks = max_active_tasks
        self.dagrun_timeout = dagrun_timeout
        self.doc_md = doc_md
        self.params = ParamsDict(params or {}, owner=f"DAG {dag_id!r}")
        self.on_success_callback = on_success_callback
        self.on_failure_callback = on_failure_callback
        self.sla_miss_callback = sla_miss_callback
        if isinstance(template_searchpath, str):
            template_searchpath = [template_searchpath]
        self.template_searchpath: list[str] = list(template_searchpath or [])
        self.user_defined_macros = dict(user_defined_macros or {})
        self.user_defined_filters = dict(user_defined_filters or {})
        self.is_paused_upon_creation = is_paused_upon_creation
        self.fileloc = fileloc or _caller_file()
        self.auto_register = auto_register
        self.dag_display_name = dag_display_name or self.dag_id
        failed_runs_limit = max_consecutive_failed_dag_runs
        if not isinstance(failed_runs_limit, int) or failed_runs_limit < 0:
            raise DagDefinitionError(
                f"DAG {dag_id!r}: max_consecutive_failed_dag_runs must be 0 (no limit) or more")
        self.max_consecutive_failed_dag_runs = max_consecutive_failed_dag_runs
        # Jinja options: native Python values instead of strings, the undefined class and
        # other Environment arguments (authoring.templating builds the environment).
        self.render_template_as_native_obj = render_template_as_native_obj
        self.template_undefined = template_undefined
        self.jinja_environment_kwargs = dict(jinja_environment_kwargs or {})
        # Kept for the UI and for Airflow files; millstream's roles and deadlines differ.
        self.owner_links = dict(owner_links or {})
        self.access_control = access_control
        self.fail_fast = fail_fast
        self.disable_bundle_versioning = disable_bundle_versioning
        self.deadline = deadline
        self.task_dict: dict[str, BaseOperator] = {}
        # extra data of an edge (upstream_id, downstream_id), e.g. its Label text
        self.edge_info: dict[tuple[str, str], dict[str, str]] = {}
        self.task_group_dict: dict[str, TaskGroup] = {}

    # -- context manager -------------------------------------------------------------
    def __enter__(self) -> DAG:
        _dag_stack.append(self)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        _dag_stack.pop()
        if exc_type is None:
            self.validate()
            if self.auto_register and _registries and self not in _registries[-1]:
                _registries[-1].append(self)

    def __repr__(self) -> str:
        return f"<DAG: {self.dag_id}>"

    # -- tasks -------------------------------------------------------------------------
    def add_task(self, task: BaseOperator) -> None:
        """Register a task; a second task with the same id is a definition error."""
        if task.task_id in self.task_dict and self.task_dict[task.task_id] is not task:
            raise DuplicateTaskIdError(
                f"DAG {self.dag_id!r}: task id {task.task_id!r} is used by more than one task"
            )
        self.task_dict[task.task_id] = task

    @property
    def tasks(self) -> list[BaseOperator]:
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        return list(self.task_dict)

    @property
    def schedule_interval(self) -> Any:
        """The schedule as given (Airflow 2's name for :attr:`schedule`)."""
        return self.schedule

    def has_task(self, task_id: str) -> bool:
        return task_id in self.task_dict

    def get_task(self, task_id: str) -> BaseOperator:
        """The task with this id, or a KeyError naming the DAG."""
        try:
            return self.task_dict[task_id]
        except KeyError:
            raise KeyError(f"DAG {self.dag_id!r} has no task {task_id!r}") from None

    @property
    def roots(self) -> list[BaseOperator]:
        return [t for t in self.task_dict.values() if not t.upstream_task_ids]

    @property
    def leaves(self) -> list[BaseOperator]:
        return [t for t in self.task_dict.values() if not t.downstream_task_ids]

    def topological_sort(self) -> list[BaseOperator]:
        """Tasks ordered so that every task comes after its upstream tasks."""
        order: list[BaseOperator] = []
        indegree = {tid: len(t.upstream_task_ids) for tid, t in self.task_dict.items()}
        ready = [tid for tid, n in indegree.items() if n == 0]
        while ready:
            tid = ready.pop()
            order.append(self.task_dict[tid])
            for down in sorted(self.task_dict[tid].downstream_task_ids):
                indegree[down] -= 1
                if indegree[down] == 0:
                    ready.append(down)
        if len(order) != len(self.task_dict):
            raise DagCycleError(f"DAG {self.dag_id!r} has a cycle: {' -> '.join(self._a_cycle())}")
        return order

    def _a_cycle(self) -> list[str]:
        """One cycle among the tasks, as task ids with the first repeated at the end."""
        colour: dict[str, int] = {}
        path: list[str] = []

        def visit(tid: str) -> list[str] | None:
            colour[tid] = 1
            path.append(tid)
            for down in sorted(self.task_dict[tid].downstream_task_ids):
                if colour.get(down) == 1:
                    return [*path[path.index(down):], down]
                if down not in colour and (found := visit(down)):
                    return found
            path.pop()
            colour[tid] = 2
            return None

        for tid in sorted(self.task_dict):
            if tid not in colour and (found := visit(tid)):
                return found
        return []

    def validate(self) -> None:
        """Check the whole graph: every edge points at a task of this DAG, and no cycles."""
        for task in self.task_dict.values():
            for other in task.upstream_task_ids | task.downstream_task_ids:
                if other not in self.task_dict:
                    raise DagDefinitionError(
                        f"DAG {self.dag_id!r}: task {task.task_id!r} depends on {other!r}, "
                        "which is not a task of this DAG"
                    )
        self.topological_sort()

    # -- running -------------------------------------------------------------------------
    def resolve_params(self, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        """The run's params: defaults overridden by the run's conf, each validated."""
        return self.params.resolve(conf or {})

    def test(
        self,
        logical_date: datetime | str | None = None,
        conf: dict[str, Any] | None = None,
        fast_retries: bool = False,
    ) -> DagTestOutcome:
        """Run one DAG run to completion in this process and return its result."""
        return dag_test_runner()(self, logical_date, conf, fast_retries)


def _catchup_by_default() -> bool:
    """The ``scheduler.catchup_by_default`` setting, read when a DAG is defined.

    The settings module is imported here, not at the top, so that ``import millstream``
    stays fast; processes that parse DAGs have it loaded already.
    """
    from millstream.config import load_settings

    return load_settings().scheduler.catchup_by_default


def _caller_file() -> str | None:
    """The file of the first frame outside millstream: where the DAG was defined."""
    frame: Any = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIR):
            return str(filename)
        frame = frame.f_back
    return None


def dag(
    dag_id: str | None = None, **dag_kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., DAG]]:
    """Decorator turning a function that builds tasks into a DAG factory.

    The function's parameters become DAG params (their defaults are the params' defaults);
    inside the function they are placeholders resolved at run time.
    """
    if callable(dag_id):
        return dag()(dag_id)  # type: ignore[return-value]

    def decorator(func: Callable[..., Any]) -> Callable[..., DAG]:
        @functools.wraps(func)
        def factory(*args: Any, **kwargs: Any) -> DAG:
            from millstream.authoring.xcom_arg import DagParam

            signature = inspect.signature(func)
            bound = signature.bind_partial(*args, **kwargs)
            params = dict(dag_kwargs.get("params") or {})
            for name, parameter in signature.parameters.items():
                if name in bound.arguments:
                    params[name] = bound.arguments[name]
                elif parameter.default is not inspect.Parameter.empty and name not in params:
                    params[name] = parameter.default
            kwargs_for_dag = {k: v for k, v in dag_kwargs.items() if k != "params"}
            kwargs_for_dag.setdefault("doc_md", inspect.getdoc(func))
            kwargs_for_dag.setdefault("fileloc", inspect.getsourcefile(func))
            new_dag = DAG(dag_id or func.__name__, params=params, **kwargs_for_dag)
            with new_dag:
                func(**{name: DagParam(new_dag, name) for name in signature.parameters})
            return new_dag

        return factory

    return decorator


__all__ = ["DAG", "Param", "current_dag", "dag"]
