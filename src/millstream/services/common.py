"""What the services share: finding what an action names, or a NotFoundError saying so.

Each ``require_*`` returns the record or raises :class:`~millstream.exceptions.NotFoundError`
with a message naming what is missing; they join the caller's transaction.
"""

from __future__ import annotations

from millstream.exceptions import NotFoundError
from millstream.parsing.serialize import DagStructure
from millstream.services.inputs import parse_map_index
from millstream.store.interfaces import Store
from millstream.store.records import (
    DagRecord,
    DagRunRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
)


def require_dag(store: Store, dag_id: str) -> DagRecord:
    """The DAG's record, or a NotFoundError saying the store does not know it."""
    record = store.dags.get(dag_id)
    if record is None:
        raise NotFoundError(
            f"no DAG {dag_id!r} in the store (is its file in the dags folder, and has the "
            "scheduler parsed it?)"
        )
    return record


def require_structure(store: Store, dag_id: str, version: str | None = None) -> DagStructure:
    """The DAG's stored structure (the latest, or ``version``), or a NotFoundError."""
    require_dag(store, dag_id)
    text = store.dags.structure(dag_id, version)
    if text is None:
        which = f"version {version!r}" if version else "structure"
        raise NotFoundError(f"DAG {dag_id!r} has no stored {which} yet")
    return DagStructure.from_json_text(text)


def require_run(store: Store, dag_id: str, run_id: str) -> DagRunRecord:
    """The run, or a NotFoundError naming it."""
    run = store.runs.get(dag_id, run_id)
    if run is None:
        raise NotFoundError(f"DAG {dag_id!r} has no run {run_id!r}")
    return run


def require_task_instance(store: Store, key: TaskInstanceKey) -> TaskInstanceRecord:
    """The task instance, or a NotFoundError naming it (an impossible map index is an
    InvalidInputError)."""
    parse_map_index(key.map_index)
    ti = store.task_instances.get(key)
    if ti is None:
        raise NotFoundError(f"run {key.run_id!r} of DAG {key.dag_id!r} has no task instance "
                            f"{label(key)!r}")
    return ti


def label(key: TaskInstanceKey) -> str:
    """``task`` or ``task[3]`` for a mapped instance."""
    return key.task_id if key.map_index < 0 else f"{key.task_id}[{key.map_index}]"
