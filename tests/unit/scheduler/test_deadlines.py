"""DAG deadline alerts: a run not ended by reference + interval misses it, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from millstream import DAG, DeadlineAlert, DeadlineReference
from millstream.exceptions import DagDefinitionError
from millstream.model.states import DagRunState
from millstream.operators.empty import EmptyOperator
from millstream.parsing.serialize import DagStructure
from millstream.scheduler.callbacks import InlineCallbackRunner
from millstream.scheduler.runs import create_run
from millstream.scheduler.sla import SlaMiss, find_sla_misses
from tests.autocommit import autocommit

from . import harness

START = datetime(2026, 1, 1, tzinfo=UTC)
QUEUED = START + timedelta(days=1, minutes=5)


def _setup(reference: str, callback: Any = None) -> tuple[Any, DagStructure, DAG, str]:
    dag = DAG("deadline_dag", schedule="@daily", start_date=START,
              deadline=DeadlineAlert(reference, timedelta(hours=1), callback))
    EmptyOperator(task_id="only", dag=dag)
    structure = DagStructure.from_dag(dag)
    store = autocommit(harness.store_factory())
    interval = structure.timetable.data_interval_for(START)
    run = create_run(store, structure, START, interval, QUEUED)  # type: ignore[arg-type]
    return store, structure, dag, run.run_id


@pytest.mark.parametrize(("reference", "due"), [
    (DeadlineReference.DAGRUN_LOGICAL_DATE, START + timedelta(hours=1)),
    (DeadlineReference.DAGRUN_QUEUED_AT, QUEUED + timedelta(hours=1)),
])
def test_an_unfinished_run_misses_its_deadline_once(reference: str, due: datetime) -> None:
    store, structure, _, run_id = _setup(reference)
    dags = {"deadline_dag": structure}
    reported: set[tuple[str, str, str]] = set()

    assert find_sla_misses(store, dags, due - timedelta(seconds=1), reported) == []
    assert find_sla_misses(store, dags, due, reported) == [
        SlaMiss("deadline_dag", run_id, "", due, kind="deadline", alert=0)]
    assert find_sla_misses(store, dags, due + timedelta(hours=3), reported) == []
    # Another scheduler, without this one's memory, finds it recorded already.
    assert find_sla_misses(store, dags, due + timedelta(hours=3), set()) == []
    (recorded,) = store.deadline_misses.for_run("deadline_dag", run_id)
    assert (recorded.kind, recorded.deadline, recorded.detected_at) == ("deadline", due, due)


def test_the_start_date_reference_waits_for_the_run_to_start() -> None:
    store, structure, _, run_id = _setup(DeadlineReference.DAGRUN_START_DATE)
    dags = {"deadline_dag": structure}
    late = QUEUED + timedelta(days=1)
    assert find_sla_misses(store, dags, late, set()) == []
    run = store.runs.get("deadline_dag", run_id)
    store.runs.set_state(run, DagRunState.RUNNING, start_date=late)
    assert find_sla_misses(store, dags, late + timedelta(hours=1), set())[0].deadline == \
        late + timedelta(hours=1)


def test_a_run_that_ended_in_time_never_misses_it() -> None:
    store, structure, _, run_id = _setup(DeadlineReference.DAGRUN_QUEUED_AT)
    run = store.runs.get("deadline_dag", run_id)
    run = store.runs.set_state(run, DagRunState.RUNNING, start_date=QUEUED)
    store.runs.set_state(run, DagRunState.FAILED, end_date=QUEUED + timedelta(minutes=1))
    later = QUEUED + timedelta(days=1)
    assert find_sla_misses(store, {"deadline_dag": structure}, later, set()) == []
    assert store.deadline_misses.count() == 0


def test_the_alerts_callback_gets_the_miss_in_its_context() -> None:
    received: list[dict[str, Any]] = []
    store, structure, dag, run_id = _setup(DeadlineReference.DAGRUN_QUEUED_AT,
                                           received.append)
    misses = find_sla_misses(store, {"deadline_dag": structure}, QUEUED + timedelta(hours=2),
                             set())
    assert structure.has_sla_miss_callback
    InlineCallbackRunner({dag.dag_id: dag}).sla_missed(structure, misses)
    (context,) = received
    assert context["dag"] is dag and context["run_id"] == run_id
    assert context["deadline"] == QUEUED + timedelta(hours=1)
    assert context["reason"].startswith(f"run {run_id} of DAG deadline_dag missed its deadline")


@pytest.mark.parametrize(("deadline", "message"), [
    ("soon", "takes DeadlineAlert objects"),
    (DeadlineAlert("tomorrow", timedelta(1)), "unknown deadline reference 'tomorrow'"),
    (DeadlineAlert(DeadlineReference.DAGRUN_QUEUED_AT, 60), "interval is a timedelta"),  # type: ignore[arg-type]
    (DeadlineAlert(DeadlineReference.DAGRUN_QUEUED_AT, timedelta(1), "mail"),  # type: ignore[arg-type]
     "callback must be callable"),
])
def test_a_bad_deadline_is_refused_naming_the_dag(deadline: Any, message: str) -> None:
    with pytest.raises(DagDefinitionError, match=message) as caught:
        DAG("bad_deadline", schedule=None, start_date=START, deadline=deadline)
    assert "bad_deadline" in str(caught.value)
