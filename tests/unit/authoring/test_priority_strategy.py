"""weight_rule given a custom priority weight strategy (an object or its class's path)."""

from __future__ import annotations

import pytest

from millstream import DAG
from millstream.authoring.priority import PriorityWeightStrategy
from millstream.exceptions import DagDefinitionError
from millstream.operators.empty import EmptyOperator


class ByName(PriorityWeightStrategy):
    def get_weight(self, ti):
        assert ti.try_number == 1 and ti.map_index == -1
        return len(ti.task_id)


class Broken(PriorityWeightStrategy):
    def get_weight(self, ti):
        return "high"


def test_a_strategy_object_gives_the_first_try_weight_as_an_absolute_weight():
    with DAG("weights"):
        task = EmptyOperator(task_id="seven77", weight_rule=ByName())
    assert (task.weight_rule, task.priority_weight) == ("absolute", 7)
    assert isinstance(task.weight_strategy, ByName)


def test_a_strategy_may_be_named_by_its_class_path():
    with DAG("weights_path"):
        task = EmptyOperator(task_id="abc",
                             weight_rule=f"{__name__}.ByName")
    assert task.priority_weight == 3


@pytest.mark.parametrize(("rule", "message"), [
    ("no_such_module_xyz.Strategy", "names no priority weight strategy"),
    (Broken(), "returned 'high', not an integer"),
    ("sideways", "unknown weight_rule 'sideways'"),
])
def test_bad_strategies_are_definition_errors(rule, message):
    with DAG("weights_bad"), pytest.raises(DagDefinitionError, match=message):
        EmptyOperator(task_id="t", weight_rule=rule)
