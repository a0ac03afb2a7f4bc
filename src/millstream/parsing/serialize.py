"""DAG structure as JSON: what the scheduler needs of a DAG, without importing its file.

A DAG file is imported only in a parsing process (it may hang, crash or eat memory);
the scheduler works from this structure, stored per DAG version, so a run always shows
the structure it ran with. ``DagStructure`` answers the same questions as a ``DAG``
(tasks, dependencies, trigger rules, retries, pools, mapping) for the scheduler.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from millstream.authoring.asset_expressions import AssetOrTimeSchedule, condition_from_json
from millstream.authoring.assets import Asset, AssetSchedule
from millstream.authoring.mapping import ExpandSource
from millstream.authoring.params import Param, ParamsDict
from millstream.authoring.timetables import TimetableSchedule, load_timetable
from millstream.model.cron import CronSchedule, parse_schedule
from millstream.model.graph import relatives
from millstream.model.intervals import DeltaSchedule, NoSchedule, OnceSchedule, Schedule
from millstream.model.trigger_rules import TriggerRule

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG
    from millstream.authoring.task import BaseOperator

FORMAT_VERSION = 1


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _delta(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


# the module names the loader gives DAG files: not importable by the scheduler
_DAG_FILE_MODULES = "millstream_dagfile_"


def _schedule_to_json(schedule: Schedule) -> dict[str, Any]:
    if isinstance(schedule, CronSchedule):
        return {"type": "cron", "expression": schedule.expression}
    if isinstance(schedule, DeltaSchedule):
        return {"type": "delta", "seconds": schedule.delta.total_seconds()}
    if isinstance(schedule, OnceSchedule):
        return {"type": "once"}
    if isinstance(schedule, AssetSchedule):
        data: dict[str, Any] = {"type": "assets", "assets": [a.as_json() for a in schedule.assets]}
        if schedule.condition is not None:
            data["condition"] = schedule.condition.as_json()
        return data
    if isinstance(schedule, AssetOrTimeSchedule):
        return {"type": "asset_or_time", "timetable": _schedule_to_json(schedule.timetable),
                "assets": _schedule_to_json(schedule.assets_schedule)}
    if isinstance(schedule, TimetableSchedule):
        path = schedule.class_path()
        if path.startswith(_DAG_FILE_MODULES) or "<locals>" in path:
            raise ValueError(
                f"the timetable {type(schedule.timetable).__name__} is defined in the DAG file: "
                "as in Airflow, define it in the plugins folder (core.plugins_folder) or an "
                "installed package, so the scheduler can import it")
        return {"type": "timetable", "class": path, "data": schedule.timetable.serialize()}
    return {"type": "none"}


def scheduled_asset_json(schedule: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The assets (as :meth:`Asset.as_json` wrote them) of a stored schedule, read without
    building it: what the triggerer needs to find the assets' watchers."""
    if schedule.get("type") == "assets":
        return [dict(a) for a in schedule.get("assets", [])]
    if schedule.get("type") == "asset_or_time":
        return scheduled_asset_json(schedule.get("assets", {}))
    return []


def _schedule_from_json(data: dict[str, Any]) -> Schedule:
    kind = data["type"]
    if kind == "cron":
        return parse_schedule(data["expression"])
    if kind == "delta":
        return parse_schedule(timedelta(seconds=data["seconds"]))
    if kind == "once":
        return OnceSchedule()
    if kind == "assets":
        condition = data.get("condition")
        return AssetSchedule(tuple(Asset.from_json(a) for a in data["assets"]),
                             condition=None if condition is None else
                             condition_from_json(condition))
    if kind == "asset_or_time":
        on_assets = _schedule_from_json(data["assets"])
        assert isinstance(on_assets, AssetSchedule)
        return AssetOrTimeSchedule(timetable=_schedule_from_json(data["timetable"]),
                                   assets=on_assets.condition or list(on_assets.assets))
    if kind == "timetable":
        return load_timetable(data["class"], data["data"])
    return NoSchedule()


def _json_safe(value: Any, where: str) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)  # shown, never used to run: the task process has the real value
    return value


def _param_to_json(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, Param):
        return {
            "param": True,
            "default": _json_safe(value.default, name) if value.has_default else None,
            "has_default": value.has_default,
            "description": value.description,
            "type": value.types,  # as a list, for forms and listings
            "schema": _json_safe(value.schema, name),
        }
    return {"param": False, "value": _json_safe(value, name)}


def _param_from_json(data: dict[str, Any]) -> Any:
    if not data["param"]:
        return data["value"]
    if "schema" in data:
        schema = data["schema"] if isinstance(data["schema"], dict) else {}
    else:  # stored before Params had a JSON schema: its seven keywords
        schema = {k: data[k] for k in ("type", "enum", "minimum", "maximum", "min_length",
                                         "max_length", "pattern") if data.get(k)}
    if data["has_default"]:
        return Param(data["default"], data["description"], schema=schema)
    return Param(description=data["description"], schema=schema)


def serialize_task(task: BaseOperator) -> dict[str, Any]:
    """The scheduler-relevant settings of one task, as JSON-ready data.

    Setup/teardown roles and an ExternalTaskMarker's target are written only when set,
    so that DAGs without them keep the structure (and version) they had.
    """
    data = _task_settings(task)
    for name in ("is_setup", "is_teardown", "on_failure_fail_dagrun"):
        if getattr(task, name):
            data[name] = True
    marker = getattr(task, "external_marker", None)
    if marker is not None:
        data["external_marker"] = marker
    return data


def _task_settings(task: BaseOperator) -> dict[str, Any]:
    expansion = task.expansion_sources() if task.is_mapped else None  # type: ignore[attr-defined]
    operator = task.operator_class if task.is_mapped else type(task)  # type: ignore[attr-defined]
    return {
        "task_id": task.task_id,
        "operator": f"{operator.__module__}.{operator.__qualname__}",
        "operator_name": operator.__name__,
        "upstream": sorted(task.upstream_task_ids),
        "downstream": sorted(task.downstream_task_ids),
        "trigger_rule": task.trigger_rule.value,
        "retries": task.retries,
        "retry_delay": _seconds(task.retry_delay),
        "retry_exponential_backoff": task.retry_exponential_backoff,
        "max_retry_delay": _seconds(task.max_retry_delay),
        "execution_timeout": _seconds(task.execution_timeout),
        "pool": task.pool,
        "pool_slots": task.pool_slots,
        "priority_weight": task.priority_weight,
        "weight_rule": task.weight_rule,
        "queue": task.queue,
        "depends_on_past": task.depends_on_past,
        "wait_for_downstream": task.wait_for_downstream,
        "max_active_tis_per_dag": task.max_active_tis_per_dag,
        "owner": task.owner,
        "email": task.email if isinstance(task.email, str | type(None)) else list(task.email),
        "email_on_failure": task.email_on_failure,
        "email_on_retry": task.email_on_retry,
        "sla": _seconds(task.sla),
        "doc_md": task.doc_md,
        "ui_color": task.ui_color,
        "task_group": task.task_group.group_id if task.task_group else None,
        "template_fields": list(task.template_fields),
        "has_callbacks": {
            name: bool(getattr(task, f"on_{name}_callback"))
            for name in ("execute", "success", "failure", "retry")
        },
        "is_mapped": task.is_mapped,
        "outlets": [asset.as_json() for asset in task.outlets],
        "expansion": None if expansion is None else {
            name: s.to_json() for name, s in expansion.items()
        },
    }


def serialize_dag(dag: DAG) -> dict[str, Any]:
    """The whole DAG structure as JSON-ready data (see :class:`DagStructure`)."""
    dag.validate()
    groups = {
        group_id: {
            "tooltip": group.tooltip,
            "parent": group.parent_group.group_id if group.parent_group else None,
            "ui_color": group.ui_color,
        }
        for group_id, group in dag.task_group_dict.items()
    }
    data: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "dag_id": dag.dag_id,
        "fileloc": dag.fileloc,
        "description": dag.description,
        "schedule": _schedule_to_json(dag.timetable),
        "schedule_display": None if dag.schedule is None else (
            # A timetable object's own str() may be its id-bearing default repr: use the
            # schedule's, so that parsing the same file twice gives the same structure.
            str(dag.timetable)
            if isinstance(dag.timetable, AssetSchedule | AssetOrTimeSchedule | TimetableSchedule)
            else str(dag.schedule)
        ),
        "start_date": _moment(dag.start_date),
        "end_date": _moment(dag.end_date),
        "catchup": dag.catchup,
        "tags": sorted(dag.tags),
        "max_active_runs": dag.max_active_runs,
        "max_active_tasks": dag.max_active_tasks,
        "dagrun_timeout": _seconds(dag.dagrun_timeout),
        "doc_md": dag.doc_md,
        "params": {name: _param_to_json(name, value) for name, value in dag.params.items()},
        "has_callbacks": {
            "success": bool(dag.on_success_callback),
            "failure": bool(dag.on_failure_callback),
            "sla_miss": bool(dag.sla_miss_callback or dag.deadline),
        },
        # Only when there are some: a DAG without deadlines keeps its version hash.
        **({"deadlines": [{"reference": a.reference, "interval": _seconds(a.interval)}
                          for a in dag.deadline]} if dag.deadline else {}),
        "is_paused_upon_creation": dag.is_paused_upon_creation,
        "task_groups": groups,
        "tasks": [serialize_task(task) for task in dag.topological_sort()],
    }
    if dag.edge_info:  # only when set, so that DAGs without labels keep their version
        data["edge_info"] = [[up, down, dict(info)]
                             for (up, down), info in sorted(dag.edge_info.items())]
    # Only when set: a DAG that does not use it keeps its structure, and so its version.
    if dag.max_consecutive_failed_dag_runs:
        data["max_consecutive_failed_dag_runs"] = dag.max_consecutive_failed_dag_runs
    if dag.dag_display_name != dag.dag_id:
        data["dag_display_name"] = dag.dag_display_name
    return data


def structure_hash(data: dict[str, Any]) -> str:
    """A stable fingerprint of a serialized DAG: a new one means a new DAG version."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass
class TaskStructure:
    """One task as the scheduler sees it (same attribute names as BaseOperator)."""

    task_id: str
    upstream_task_ids: set[str]
    downstream_task_ids: set[str]
    trigger_rule: TriggerRule
    retries: int
    retry_delay: timedelta | None
    retry_exponential_backoff: bool
    max_retry_delay: timedelta | None
    execution_timeout: timedelta | None
    pool: str
    pool_slots: int
    priority_weight: int
    weight_rule: str
    queue: str
    depends_on_past: bool
    wait_for_downstream: bool
    max_active_tis_per_dag: int | None
    is_mapped: bool
    sla: timedelta | None
    operator_name: str
    task_group_id: str | None
    raw: dict[str, Any] = field(repr=False)
    _expansion: dict[str, ExpandSource] | None = field(default=None, repr=False)
    is_setup: bool = False
    is_teardown: bool = False
    on_failure_fail_dagrun: bool = False
    external_marker: dict[str, Any] | None = field(default=None, repr=False)
    outlets: list[Asset] = field(default_factory=list, repr=False)
    dag: DagStructure | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskStructure:
        expansion = data.get("expansion")
        return cls(
            task_id=data["task_id"],
            upstream_task_ids=set(data["upstream"]),
            downstream_task_ids=set(data["downstream"]),
            trigger_rule=TriggerRule.parse(data["trigger_rule"]),
            retries=data["retries"],
            retry_delay=_delta(data["retry_delay"]),
            retry_exponential_backoff=data["retry_exponential_backoff"],
            max_retry_delay=_delta(data["max_retry_delay"]),
            execution_timeout=_delta(data["execution_timeout"]),
            pool=data["pool"],
            pool_slots=data["pool_slots"],
            priority_weight=data["priority_weight"],
            weight_rule=data["weight_rule"],
            queue=data["queue"],
            depends_on_past=data["depends_on_past"],
            wait_for_downstream=data["wait_for_downstream"],
            max_active_tis_per_dag=data["max_active_tis_per_dag"],
            is_mapped=data["is_mapped"],
            sla=_delta(data["sla"]),
            operator_name=data["operator_name"],
            task_group_id=data["task_group"],
            outlets=[Asset.from_json(a) for a in data.get("outlets", [])],
            is_setup=data.get("is_setup", False),
            is_teardown=data.get("is_teardown", False),
            on_failure_fail_dagrun=data.get("on_failure_fail_dagrun", False),
            external_marker=data.get("external_marker"),
            raw=data,
            _expansion=None if expansion is None else {
                name: ExpandSource.from_json(s) for name, s in expansion.items()
            },
        )

    def expansion_sources(self) -> dict[str, ExpandSource]:
        """Where each expanded argument of a mapped task comes from."""
        return dict(self._expansion or {})

    def get_flat_relative_ids(self, upstream: bool = False) -> set[str]:
        """Ids of every task reachable downstream (or upstream) of this one."""
        assert self.dag is not None
        return relatives(self.dag.task_dict, self.task_id, upstream)


class DagStructure:
    """A DAG as the scheduler sees it, rebuilt from :func:`serialize_dag` output."""

    def __init__(self, data: dict[str, Any]) -> None:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported serialized DAG format {data.get('format')!r}")
        self.data = data
        self.version = structure_hash(data)
        self.dag_id: str = data["dag_id"]
        self.fileloc: str | None = data["fileloc"]
        self.description: str | None = data["description"]
        self.timetable = _schedule_from_json(data["schedule"])
        self.schedule_display: str | None = data["schedule_display"]
        self.start_date = _parse_moment(data["start_date"])
        self.end_date = _parse_moment(data["end_date"])
        self.catchup: bool = data["catchup"]
        self.tags: list[str] = data["tags"]
        self.max_active_runs: int = data["max_active_runs"]
        self.max_active_tasks: int = data["max_active_tasks"]
        self.dagrun_timeout = _delta(data["dagrun_timeout"])
        self.max_consecutive_failed_dag_runs: int = data.get("max_consecutive_failed_dag_runs", 0)
        self.dag_display_name: str = data.get("dag_display_name") or self.dag_id
        self.doc_md: str | None = data["doc_md"]
        self.params = ParamsDict(
            {name: _param_from_json(p) for name, p in data["params"].items()},
            owner=f"DAG {self.dag_id!r}",
        )
        self.has_success_callback: bool = data["has_callbacks"]["success"]
        self.has_failure_callback: bool = data["has_callbacks"]["failure"]
        self.has_sla_miss_callback: bool = data["has_callbacks"]["sla_miss"]
        # (reference, interval) of each deadline alert; see millstream.authoring.deadline
        self.deadlines: list[tuple[str, timedelta]] = [
            (d["reference"], timedelta(seconds=d["interval"])) for d in data.get("deadlines", ())]
        self.is_paused_upon_creation: bool | None = data["is_paused_upon_creation"]
        self.task_groups: dict[str, dict[str, Any]] = data["task_groups"]
        # extra data of edges, such as a Label's text: (upstream, downstream) -> {"label": ...}
        self.edge_info: dict[tuple[str, str], dict[str, Any]] = {
            (up, down): info for up, down, info in data.get("edge_info", [])
        }
        self._order = [TaskStructure.from_json(t) for t in data["tasks"]]
        self.task_dict: dict[str, TaskStructure] = {t.task_id: t for t in self._order}
        for task in self._order:
            task.dag = self

    @property
    def tasks(self) -> list[TaskStructure]:
        return list(self._order)

    def topological_sort(self) -> list[TaskStructure]:
        """Tasks in the topological order they were serialized in."""
        return list(self._order)

    def resolve_params(self, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        """The run's params: defaults overridden by the run's conf, each validated."""
        return self.params.resolve(conf or {})

    def to_json(self) -> str:
        return json.dumps(self.data, sort_keys=True)

    @classmethod
    def from_json_text(cls, text: str) -> DagStructure:
        return cls(json.loads(text))

    @classmethod
    def from_dag(cls, dag: DAG) -> DagStructure:
        return cls(serialize_dag(dag))

    def __repr__(self) -> str:
        return f"<DagStructure: {self.dag_id} {self.version[:8]}>"
