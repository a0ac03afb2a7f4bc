"""millstream: data pipelines as DAGs of Python tasks, scheduled, run and watched.

The public authoring API lives here: ``from millstream import DAG, dag, task, TaskGroup``.
"""

from datetime import datetime
from typing import Any

from millstream.authoring.assets import Asset
from millstream.authoring.context import get_current_context
from millstream.authoring.dag import DAG, dag
from millstream.authoring.dag_test import DagTestOutcome, register_dag_test_runner
from millstream.authoring.deadline import DeadlineAlert, DeadlineReference
from millstream.authoring.dependencies import Label, chain, chain_linear, cross_downstream
from millstream.authoring.group_decorator import task_group
from millstream.authoring.params import Param
from millstream.authoring.task import BaseOperator
from millstream.authoring.taskgroup import TaskGroup
from millstream.authoring.xcom_arg import XComArg
from millstream.model.state_retention import NEVER_EXPIRE
from millstream.model.states import DagRunState
from millstream.model.trigger_rules import TriggerRule
from millstream.operators.decorators import (
    make_task_decorator,
    register_task_kind,
    setup,
    task,
    teardown,
)
from millstream.operators.trigger_dagrun import TriggerOutcome, register_dag_run_service
from millstream.secrets.connection import Connection, register_connection_tester

__version__ = "0.1.0"

__all__ = [
    "DAG",
    "NEVER_EXPIRE",
    "Asset",
    "BaseOperator",
    "DeadlineAlert",
    "DeadlineReference",
    "Label",
    "Param",
    "TaskGroup",
    "TriggerRule",
    "XComArg",
    "chain",
    "chain_linear",
    "cross_downstream",
    "dag",
    "get_current_context",
    "setup",
    "task",
    "task_group",
    "teardown",
]


# -- the calls that go up the layers --------------------------------------------------------
# A few things users hold call into a layer above their own: DAG.test() runs the whole engine,
# TriggerDagRunOperator uses the trigger service, Connection.test_connection() goes through a
# hook. The lower layer names what it needs (a Protocol and a register function); this
# package, which sits above every layer, fills it in. Each import waits for the first call,
# so that ``import millstream`` in a DAG file stays light.


def _run_dag_test(dag: DAG, logical_date: datetime | str | None,
                  conf: dict[str, Any] | None, fast_retries: bool) -> DagTestOutcome:
    from millstream.testing import run_dag_test

    return run_dag_test(dag, logical_date=logical_date, conf=conf, fast_retries=fast_retries)


class _MetadataStoreDagRuns:
    """TriggerDagRunOperator's service, loaded when a task first triggers a run."""

    def trigger_dag_run(self, **arguments: Any) -> TriggerOutcome:
        from millstream.services.triggered_runs import MetadataStoreDagRuns

        return MetadataStoreDagRuns().trigger_dag_run(**arguments)

    def run_state(self, dag_id: str, run_id: str) -> DagRunState | None:
        from millstream.services.triggered_runs import MetadataStoreDagRuns

        return MetadataStoreDagRuns().run_state(dag_id, run_id)

    def is_paused(self, dag_id: str) -> bool | None:
        from millstream.services.triggered_runs import MetadataStoreDagRuns

        return MetadataStoreDagRuns().is_paused(dag_id)


def _test_connection(conn: Connection) -> tuple[bool, str]:
    from millstream.hooks.connection_tester import test_connection

    return test_connection(conn)


def _sensor_decorator(python_callable: Any = None, **operator_kwargs: Any) -> Any:
    from millstream.sensors.python import DecoratedSensorOperator

    return make_task_decorator(DecoratedSensorOperator)(python_callable, **operator_kwargs)


register_task_kind("sensor", _sensor_decorator)
register_dag_test_runner(_run_dag_test)
register_dag_run_service(_MetadataStoreDagRuns())
register_connection_tester(_test_connection)
