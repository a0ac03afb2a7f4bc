"""The context a task sees: dates, run, params, macros, and its task instance handle."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from millstream.authoring import macros
from millstream.authoring.params import Param
from millstream.runtime.asset_events import TriggeringAssetEvents
from millstream.runtime.outlet_events import (
    InletEventAccessors,
    OutletEventAccessors,
)
from millstream.runtime.state_stores import (
    AssetStateStores,
    TaskStateStoreAccessor,
    concrete_assets,
)
from millstream.runtime.xcom import XComReader, decode_xcom, encode_xcom
from millstream.secrets.accessors import ConnectionAccessor, VariableAccessor
from millstream.store.records import DagRunRecord
from millstream.store.state_store_records import TaskStateScope

if TYPE_CHECKING:
    from millstream.authoring.task import BaseOperator
    from millstream.runtime.events import TaskWorkload
    from millstream.store.records import TaskInstanceRecord

_DEFAULT_BASE_URL = "http://localhost:8080"


def webserver_base_url() -> str:
    """Where users reach the web UI: ``webserver.base_url``, else its host and port."""
    from millstream.config import SettingsError, load_settings

    try:
        web = load_settings().webserver
    except SettingsError as exc:  # a link is not worth failing a try (or its e-mail) over
        logging.getLogger("millstream.task").warning("bad settings, log links use %s: %s",
                                                     _DEFAULT_BASE_URL, exc)
        return _DEFAULT_BASE_URL
    if web.base_url:
        return web.base_url.rstrip("/")
    host = "localhost" if web.host in ("0.0.0.0", "::", "") else web.host
    return f"http://{host}:{web.port}"


def task_log_url(dag_id: str, run_id: str, task_id: str, try_number: int,
                 map_index: int = -1, base_url: str | None = None) -> str:
    """The web UI's page for one try's log."""
    base = (base_url or webserver_base_url()).rstrip("/")
    query = urlencode({"run_id": run_id, "task_id": task_id, "map_index": map_index,
                       "try": try_number})
    return f"{base}/dags/{quote(dag_id, safe='')}/task?{query}"


_FIELD_NAMES: dict[type[DagRunRecord], tuple[str, ...]] = {}


def _field_names(cls: type[DagRunRecord]) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


class RuntimeDagRun(DagRunRecord):
    """The ``dag_run`` a running task sees: the run's record, and its task instances."""

    __slots__ = ()

    @classmethod
    def of(cls, run: DagRunRecord) -> RuntimeDagRun:
        if isinstance(run, RuntimeDagRun):
            return run
        return cls(**{name: getattr(run, name) for name in _field_names(type(run))})

    @property
    def partition_key(self) -> str | None:
        """Airflow's asset partition key of the run: millstream's runs have none (None)."""
        return None

    @property
    def partition_date(self) -> datetime | None:
        """The partition key as a date: None, as there is no partition key."""
        return None

    def get_task_instances(self, state: str | Iterable[str] | None = None
                           ) -> list[TaskInstanceRecord]:
        """The run's task instances as the metadata store has them now (``state`` filters)."""
        from millstream.store.current import metadata_transaction

        with metadata_transaction() as store:
            instances = store.task_instances.for_run(self.dag_id, self.run_id)
        if state is None:
            return instances
        wanted = {state} if isinstance(state, str) else set(state)
        return [ti for ti in instances if ti.state in wanted]

    def get_task_instance(self, task_id: str, map_index: int = -1) -> TaskInstanceRecord | None:
        """One task instance of the run, or None."""
        for ti in self.get_task_instances():
            if ti.task_id == task_id and ti.map_index == map_index:
                return ti
        return None


class RuntimeTaskInstance:
    """The ``ti`` of a running task: its identity, and XCom push and pull."""

    def __init__(self, task: BaseOperator, workload: TaskWorkload, reader: XComReader) -> None:
        self.task = task
        self.dag_id = workload.key.dag_id
        self.run_id = workload.key.run_id
        self.task_id = workload.key.task_id
        self.map_index = workload.key.map_index
        self.try_number = workload.try_number
        self.reschedule_count = workload.reschedule_count  # pokes this try gave back so far
        self.max_tries = workload.max_tries
        self.dag_run = RuntimeDagRun.of(workload.run)
        self.state = "running"
        self.start_date: datetime | None = None
        self.end_date: datetime | None = None
        self.duration: float | None = None  # seconds, once the try has ended
        self.log = logging.getLogger("millstream.task")
        self.pushed: dict[str, str] = {}
        self.skip_requests: set[str] = set()
        self._reader = reader

    def xcom_push(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON) under ``key`` for other tasks of this run."""
        self.pushed[key] = encode_xcom(value, self.task_id, key)

    def xcom_pull(
        self,
        task_ids: str | Iterable[str] | None = None,
        key: str = "return_value",
        dag_id: str | None = None,
        map_indexes: int | Iterable[int] | None = None,
        default: Any = None,
    ) -> Any:
        """Values pushed by other tasks of this run.

        One task id gives one value (a mapped task gives the list of its instances' values
        in map-index order); a list of task ids gives a list. ``task_ids=None`` means this
        task.
        """
        if task_ids is None:
            task_ids = self.task_id
        if isinstance(task_ids, str):
            return self._pull_one(task_ids, key, dag_id, map_indexes, default)
        return [self._pull_one(t, key, dag_id, map_indexes, default) for t in task_ids]

    def _pull_one(
        self,
        task_id: str,
        key: str,
        dag_id: str | None,
        map_indexes: int | Iterable[int] | None,
        default: Any,
    ) -> Any:
        dag_id = dag_id or self.dag_id
        if task_id == self.task_id and dag_id == self.dag_id and key in self.pushed:
            return decode_xcom(self.pushed[key])
        dag = self.task.dag
        source = dag.task_dict.get(task_id) if dag is not None and dag_id == self.dag_id else None
        if isinstance(map_indexes, int):
            text = self._reader.get_xcom(dag_id, self.run_id, task_id, map_indexes, key)
            return default if text is None else decode_xcom(text)
        if map_indexes is not None:  # the chosen instances, in map-index order
            found = (self._reader.get_xcom(dag_id, self.run_id, task_id, index, key)
                     for index in sorted(set(map_indexes)))
            return [decode_xcom(t) for t in found if t is not None]
        if source is not None and source.is_mapped:
            texts = self._reader.get_mapped_xcoms(dag_id, self.run_id, task_id, key)
            return [decode_xcom(t) for t in texts]
        text = self._reader.get_xcom(dag_id, self.run_id, task_id, -1, key)
        return default if text is None else decode_xcom(text)

    @property
    def log_url(self) -> str:
        """The web UI's page for this try's log."""
        return task_log_url(self.dag_id, self.run_id, self.task_id, self.try_number,
                            self.map_index)

    def request_skip(self, task_ids: Iterable[str]) -> None:
        """Skip these tasks of the run once this task has succeeded (branching)."""
        self.skip_requests.update(task_ids)

    def __repr__(self) -> str:
        return f"<TaskInstance {self.dag_id}.{self.task_id} {self.run_id} try {self.try_number}>"


def _task_params(
    task: BaseOperator, run: DagRunRecord, dag_params: dict[str, Any]
) -> dict[str, Any]:
    """DAG params, overridden by the task's own, overridden by the run's conf."""
    merged = dict(dag_params)
    for name, value in task.params.items():
        if name in run.conf:
            continue
        merged[name] = value.validate(value.default, name) if isinstance(value, Param) else value
    return merged


def build_context(
    task: BaseOperator, run: DagRunRecord, ti: RuntimeTaskInstance, params: dict[str, Any]
) -> dict[str, Any]:
    """The template and callable context for one task try."""
    logical = run.logical_date
    ds = logical.strftime("%Y-%m-%d")
    merged_params = _task_params(task, run, params)
    context: dict[str, Any] = {
        "dag": task.dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "dag_run": ti.dag_run,
        "run_id": run.run_id,
        "logical_date": logical,
        "execution_date": logical,
        "ds": ds,
        "ds_nodash": ds.replace("-", ""),
        "ts": logical.isoformat(),
        "ts_nodash": logical.strftime("%Y%m%dT%H%M%S"),
        "data_interval_start": run.data_interval_start,
        "data_interval_end": run.data_interval_end,
        "prev_data_interval_start_success": None,
        "prev_data_interval_end_success": None,
        "params": merged_params,
        "conf": run.conf,
        "macros": macros,
        "var": VariableAccessor(),
        "conn": ConnectionAccessor(),
        "map_index": ti.map_index,
        "try_number": ti.try_number,
        "test_mode": False,
        # read from the metadata store on first use: most tasks never look
        "triggering_asset_events": TriggeringAssetEvents(run.dag_id, run.run_id),
        "inlets": list(getattr(task, "inlets", None) or []),
        "outlets": list(getattr(task, "outlets", None) or []),
        "inlet_events": InletEventAccessors(),
        "outlet_events": OutletEventAccessors(),
        "partition_key": None,  # runs have no asset partition key (see authoring.partitions)
        "task_state_store": TaskStateStoreAccessor(
            TaskStateScope(run.dag_id, run.run_id, task.task_id, ti.map_index)),
        "task_instance_key_str": f"{run.dag_id}__{task.task_id}__{ds.replace('-', '')}",
        "ts_nodash_with_tz": logical.isoformat().replace("-", "").replace(":", ""),
    }
    assets = concrete_assets(getattr(task, "inlets", None), getattr(task, "outlets", None))
    if assets:  # as in Airflow, a task with no asset has no asset_state_store
        context["asset_state_store"] = AssetStateStores(assets)
    return context
