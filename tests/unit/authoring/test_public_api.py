"""The public import paths promised to DAG authors."""

from __future__ import annotations

import millstream
from millstream import DAG, Param, TaskGroup, TriggerRule, chain, dag, task
from millstream import exceptions as exc
from millstream.operators.bash import BashOperator
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
)


def test_top_level_names_are_the_authoring_objects():
    assert DAG.__module__ == "millstream.authoring.dag"
    assert TaskGroup.__module__ == "millstream.authoring.taskgroup"
    assert Param.__module__ == "millstream.authoring.params"
    assert callable(dag) and callable(task) and callable(chain)
    assert TriggerRule("all_done") is TriggerRule.ALL_DONE
    for name in ("DAG", "dag", "task", "TaskGroup", "chain", "Param", "TriggerRule"):
        assert name in millstream.__all__


def test_operators_share_the_base_operator():
    for operator in (EmptyOperator, PythonOperator, BranchPythonOperator,
                     ShortCircuitOperator, BashOperator):
        assert issubclass(operator, millstream.BaseOperator)
    assert issubclass(BranchPythonOperator, PythonOperator)
    assert issubclass(ShortCircuitOperator, PythonOperator)


def test_exception_hierarchy():
    assert issubclass(exc.DagCycleError, exc.DagDefinitionError)
    assert issubclass(exc.DuplicateTaskIdError, exc.DagDefinitionError)
    assert issubclass(exc.DagDefinitionError, ValueError)
    for name in ("TaskSkipped", "TaskFailedNoRetry", "DagDefinitionError", "DagCycleError",
                 "DuplicateTaskIdError"):
        assert issubclass(getattr(exc, name), exc.MillstreamError)
    # the two signals a task raises are not definition errors
    assert not issubclass(exc.TaskSkipped, exc.DagDefinitionError)
    assert not issubclass(exc.TaskFailedNoRetry, exc.DagDefinitionError)
