"""What the scheduler reads of a DAG and of its tasks: the one DAG type it is typed against.

In production the scheduler works from the serialized structure the parser stored
(:class:`~millstream.parsing.serialize.DagStructure`), never from user code; ``dag.test()``
serializes the DAG the same way and schedules that, running the live operators only
inside a try. Both meet these Protocols, so nothing the scheduler decides can depend on
something only a live ``DAG`` has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from millstream.runtime.dag_callbacks import CallbackDag

if TYPE_CHECKING:
    from millstream.authoring.assets import Asset
    from millstream.authoring.mapping import ExpandSource
    from millstream.model.intervals import Schedule
    from millstream.model.trigger_rules import TriggerRule


class TaskView(Protocol):
    """One task as the scheduler sees it: dependencies, trigger rule, retries, limits."""

    @property
    def task_id(self) -> str: ...
    @property
    def upstream_task_ids(self) -> AbstractSet[str]: ...
    @property
    def downstream_task_ids(self) -> AbstractSet[str]: ...
    @property
    def trigger_rule(self) -> TriggerRule: ...
    @property
    def retries(self) -> int: ...
    @property
    def retry_delay(self) -> timedelta | None: ...
    @property
    def retry_exponential_backoff(self) -> bool: ...
    @property
    def max_retry_delay(self) -> timedelta | None: ...
    @property
    def pool(self) -> str: ...
    @property
    def pool_slots(self) -> int: ...
    @property
    def priority_weight(self) -> int: ...
    @property
    def weight_rule(self) -> str: ...
    @property
    def queue(self) -> str: ...
    @property
    def depends_on_past(self) -> bool: ...
    @property
    def wait_for_downstream(self) -> bool: ...
    @property
    def max_active_tis_per_dag(self) -> int | None: ...
    @property
    def is_mapped(self) -> bool: ...
    @property
    def sla(self) -> timedelta | None: ...
    @property
    def outlets(self) -> Sequence[Asset]: ...

    def expansion_sources(self) -> Mapping[str, ExpandSource]:
        """Where each expanded argument of a mapped task comes from."""
        ...

    def get_flat_relative_ids(self, upstream: bool = False) -> set[str]:
        """Ids of every task reachable downstream (or upstream) of this one."""
        ...


class DagView(CallbackDag, Protocol):
    """One version of a DAG as the scheduler sees it: schedule, limits, tasks, and (from
    :class:`~millstream.runtime.dag_callbacks.CallbackDag`) its id, file and callbacks."""

    @property
    def version(self) -> str | None:
        """The stored version runs are created with (None: not stored)."""
        ...
    @property
    def timetable(self) -> Schedule: ...
    @property
    def start_date(self) -> datetime | None: ...
    @property
    def end_date(self) -> datetime | None: ...
    @property
    def catchup(self) -> bool: ...
    @property
    def max_active_runs(self) -> int: ...
    @property
    def max_active_tasks(self) -> int: ...
    @property
    def dagrun_timeout(self) -> timedelta | None: ...
    @property
    def max_consecutive_failed_dag_runs(self) -> int:
        """Pause the DAG once this many runs in a row failed (0: never)."""
        ...
    @property
    def tasks(self) -> Sequence[TaskView]: ...
    @property
    def task_dict(self) -> Mapping[str, TaskView]: ...

    def topological_sort(self) -> Sequence[TaskView]:
        """Every task, each after all of its upstream tasks."""
        ...

    def resolve_params(self, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        """The run's params: defaults overridden by ``conf``, each validated."""
        ...
