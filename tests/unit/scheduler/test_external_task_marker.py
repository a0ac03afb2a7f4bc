"""Clearing an ExternalTaskMarker clears the task it points at in the other DAG's run."""

from __future__ import annotations

from datetime import UTC, datetime

from millstream import DAG
from millstream.operators.empty import EmptyOperator
from millstream.sensors.external_task import ExternalTaskMarker
from millstream.services import clear
from millstream.testing import serialized

from .harness import START, Engine

NOW = datetime(2026, 2, 1, tzinfo=UTC)


def _engine(child_marker_date: str | None = None) -> tuple[Engine, DAG, DAG]:
    with DAG("parent", start_date=START) as parent:
        marker = ExternalTaskMarker(task_id="marker", external_dag_id="child",
                                    external_task_id="first",
                                    **({"logical_date": child_marker_date}
                                       if child_marker_date else {}))
        EmptyOperator(task_id="before") >> marker
    with DAG("child", start_date=START) as child:
        EmptyOperator(task_id="first") >> EmptyOperator(task_id="second")
        EmptyOperator(task_id="unrelated")
    engine = Engine(parent, child)
    for structure in serialized([parent, child]).values():
        engine.store.dags.upsert(structure.dag_id, None, structure.to_json(),
                                 structure.version, NOW)
    return engine, parent, child


def test_clearing_a_marker_clears_the_marked_task_and_its_downstream_in_the_other_dag():
    engine, parent, child = _engine()
    parent_run = engine.run_to_end(engine.trigger(parent))
    child_run = engine.run_to_end(engine.trigger(child))
    structure = serialized([parent])["parent"]
    assert structure.task_dict["marker"].external_marker == {
        "dag_id": "child", "task_id": "first",
        "logical_date": "{{ logical_date.isoformat() }}", "recursion_depth": 10}
    result = clear.clear(engine.store, structure, "parent", [parent_run.run_id], {"marker"},
                         "ann", NOW)
    labels = sorted((ti.dag_id, ti.label) for ti in result.cleared)
    assert labels == [("child", "first"), ("child", "second"), ("parent", "marker")]
    assert engine.states(child_run) == {"first": "none", "second": "none",
                                        "unrelated": "success"}
    assert {r.dag_id for r in result.requeued} == {"parent", "child"}


def test_a_marker_whose_date_has_no_run_of_the_other_dag_clears_only_itself():
    engine, parent, child = _engine("{{ ds }}T06:00:00+00:00")  # the child runs at midnight
    parent_run = engine.run_to_end(engine.trigger(parent))
    engine.run_to_end(engine.trigger(child))
    structure = serialized([parent])["parent"]
    result = clear.clear(engine.store, structure, "parent", [parent_run.run_id], {"marker"},
                         "ann", NOW)
    assert [(ti.dag_id, ti.task_id) for ti in result.cleared] == [("parent", "marker")]
