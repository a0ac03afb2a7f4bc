"""What the route modules share: finding DAGs, runs and task instances, or a NotFoundError
naming them (a 404).

The domain's errors raised by the services (not found, conflict, invalid input) become
problem details in one place, :func:`millstream.api.problems.install_problem_handlers`."""

from __future__ import annotations

from millstream.parsing.serialize import DagStructure
from millstream.services.common import (
    require_dag,
    require_run,
    require_structure,
    require_task_instance,
)
from millstream.store.interfaces import Store
from millstream.store.records import DagRecord, DagRunRecord, TaskInstanceKey, TaskInstanceRecord

STANDARD_ERRORS = (400, 401, 403, 404, 422)
"""What any route may answer: 400 is a body that cannot be parsed at all."""


def find_dag(store: Store, dag_id: str) -> DagRecord:
    """The DAG's record, or a 404 naming it."""
    return require_dag(store, dag_id)


def find_structure(store: Store, dag_id: str, version: str | None = None) -> DagStructure:
    """The DAG's stored structure (the latest, or ``version``), or a 404 saying which."""
    return require_structure(store, dag_id, version)


def find_run(store: Store, dag_id: str, run_id: str) -> DagRunRecord:
    """The run, or a 404 naming the DAG or the run that is missing."""
    require_dag(store, dag_id)
    return require_run(store, dag_id, run_id)


def find_task_instance(store: Store, dag_id: str, run_id: str, task_id: str,
                       map_index: int) -> TaskInstanceRecord:
    """The task instance, or a 404 naming the DAG, run or instance that is missing."""
    find_run(store, dag_id, run_id)
    return require_task_instance(store, TaskInstanceKey(dag_id, run_id, task_id, map_index))
