"""millstream: data pipelines as DAGs of Python tasks, scheduled, run and watched.

The public authoring API lives here: ``from millstream import DAG, dag, task, TaskGroup``.
"""

from millstream.authoring.assets import Asset
from millstream.authoring.context import get_current_context
from millstream.authoring.dag import DAG, dag
from millstream.authoring.dependencies import chain, cross_downstream
from millstream.authoring.params import Param
from millstream.authoring.task import BaseOperator
from millstream.authoring.taskgroup import TaskGroup
from millstream.authoring.xcom_arg import XComArg
from millstream.model.trigger_rules import TriggerRule
from millstream.operators.decorators import task

__version__ = "0.1.0"

__all__ = [
    "DAG",
    "Asset",
    "BaseOperator",
    "Param",
    "TaskGroup",
    "TriggerRule",
    "XComArg",
    "chain",
    "cross_downstream",
    "dag",
    "get_current_context",
    "task",
]
