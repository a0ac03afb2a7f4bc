"""What the route modules share: finding DAGs, runs and task instances, or a NotFoundError
naming them (a 404).

The domain's errors raised by the services (not found, conflict, invalid input) become
problem details in one place, :func:`millstream.api.problems.install_problem_handlers`."""

from __future__ import annotations

from millstream.exceptions import NotFoundError
from millstream.parsing.serialize import DagStructure
from millstream.store.interfaces import Store
from millstream.store.records import DagRecord, DagRunRecord, TaskInstanceKey, TaskInstanceRecord

STANDARD_ERRORS = (400, 401, 403, 404, 422)
"""What any route may answer: 400 is a body that cannot be parsed at all."""


def find_dag(store: Store, dag_id: str) -> DagRecord:
    record = store.dags.get(dag_id)
    if record is None:
        raise NotFoundError(f"no DAG {dag_id!r}")
    return record


def find_structure(store: Store, dag_id: str, version: str | None = None) -> DagStructure:
    """The DAG's stored structure (the latest, or ``version``), or a 404 saying which."""
    find_dag(store, dag_id)
    text = store.dags.structure(dag_id, version)
    if text is None:
        which = f"version {version!r}" if version else "structure"
        raise NotFoundError(f"DAG {dag_id!r} has no stored {which}")
    return DagStructure.from_json_text(text)


def find_run(store: Store, dag_id: str, run_id: str) -> DagRunRecord:
    find_dag(store, dag_id)
    run = store.runs.get(dag_id, run_id)
    if run is None:
        raise NotFoundError(f"DAG {dag_id!r} has no run {run_id!r}")
    return run


def find_task_instance(store: Store, dag_id: str, run_id: str, task_id: str,
                       map_index: int) -> TaskInstanceRecord:
    find_run(store, dag_id, run_id)
    ti = store.task_instances.get(TaskInstanceKey(dag_id, run_id, task_id, map_index))
    if ti is None:
        label = task_id if map_index < 0 else f"{task_id}[{map_index}]"
        raise NotFoundError(f"run {run_id!r} of DAG {dag_id!r} has no task instance {label!r}")
    return ti
