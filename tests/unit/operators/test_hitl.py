"""Human-in-the-loop operators: the request, the answer through the service, timeouts with
and without defaults, approval and branching; bad answers refused."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from millstream import DAG, Param
from millstream.exceptions import ConflictError, DagDefinitionError, InvalidInputError
from millstream.operators.empty import EmptyOperator
from millstream.operators.hitl import (
    ApprovalOperator,
    HITLBranchOperator,
    HITLEntryOperator,
    HITLOperator,
)
from millstream.services import hitl
from millstream.store.memory import MemoryStore
from millstream.store.records import TaskInstanceKey
from millstream.testing import run_dag_test

START = datetime(2026, 1, 1, tzinfo=UTC)
RUN_ID = "manual__2026-01-01T00:00:00+00:00"


class _OnWait(logging.Handler):
    """Calls ``action`` the first time a HITL trigger says it waits."""

    def __init__(self, action: Callable[[], None]) -> None:
        super().__init__()
        self.action, self.done = action, False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.done and "Waiting for a response to" in record.getMessage():
            self.done = True
            self.action()


@pytest.fixture
def on_wait() -> Iterator[Callable[[Callable[[], None]], None]]:
    handlers: list[_OnWait] = []
    logger = logging.getLogger("millstream.triggerer")
    level = logger.level
    logger.setLevel(logging.INFO)

    def install(action: Callable[[], None]) -> None:
        handler = _OnWait(action)
        handlers.append(handler)
        logger.addHandler(handler)

    yield install
    for handler in handlers:
        logger.removeHandler(handler)
    logger.setLevel(level)


def _answer(store: MemoryStore, task_id: str, options: list[str],
            params: dict[str, Any] | None = None) -> Callable[[], None]:
    def act() -> None:
        run_id = _run_id(store, "ask")
        hitl.respond(store, TaskInstanceKey("ask", run_id, task_id), options, params,
                     "ana", datetime.now(UTC))
    return act


def _run_id(store: MemoryStore, dag_id: str) -> str:
    with store.transaction():
        (run,) = store.runs.list(dag_id)
    return run.run_id


def test_the_answer_is_the_tasks_xcom_and_the_run_goes_on(on_wait: Any) -> None:
    with DAG("ask", schedule=None, start_date=START) as dag:
        ask = HITLOperator(task_id="choose", subject="Which region?", options=["eu", "us"],
                           params={"limit": Param(10, type="integer")}, poke_interval=0.01)
        ask >> EmptyOperator(task_id="after")
    store = MemoryStore(open_pools=True)
    on_wait(_answer(store, "choose", ["us"], {"limit": 5}))
    result = run_dag_test(dag, logical_date=START, store=store)
    assert result.task_states == {"choose": "success", "after": "success"}
    answer = result.xcom_pull("choose")
    assert answer["chosen_options"] == ["us"]
    assert answer["params_input"] == {"limit": 5}
    assert answer["responded_by"] == "ana"


def test_a_rejection_skips_everything_downstream(on_wait: Any) -> None:
    with DAG("ask", schedule=None, start_date=START) as dag:
        gate = ApprovalOperator(task_id="gate", subject="Ship it?", poke_interval=0.01)
        gate >> EmptyOperator(task_id="ship") >> EmptyOperator(task_id="announce")
    store = MemoryStore(open_pools=True)
    on_wait(_answer(store, "gate", ["Reject"]))
    result = run_dag_test(dag, logical_date=START, store=store)
    assert result.task_states == {"gate": "success", "ship": "skipped", "announce": "skipped"}


def test_a_hitl_branch_follows_the_chosen_tasks(on_wait: Any) -> None:
    with DAG("ask", schedule=None, start_date=START) as dag:
        pick = HITLBranchOperator(task_id="pick", subject="Which?", options=["fast", "full"],
                                  options_mapping={"fast": "quick_load"}, poke_interval=0.01)
        pick >> [EmptyOperator(task_id="quick_load"), EmptyOperator(task_id="full")]
    store = MemoryStore(open_pools=True)
    on_wait(_answer(store, "pick", ["fast"]))
    result = run_dag_test(dag, logical_date=START, store=store)
    assert result.task_states == {"pick": "success", "quick_load": "success", "full": "skipped"}


def test_past_the_timeout_the_defaults_answer_or_the_task_fails() -> None:
    with DAG("timeouts", schedule=None, start_date=START) as dag:
        HITLOperator(task_id="with_default", subject="?", options=["a", "b"], defaults="b",
                     response_timeout=timedelta(minutes=5))
        HITLOperator(task_id="without", subject="?", options=["a", "b"],
                     response_timeout=timedelta(minutes=5))
        HITLEntryOperator(task_id="entry", subject="Fill in", params={"who": "nobody"},
                          response_timeout=timedelta(minutes=5))
    result = run_dag_test(dag, logical_date=START, fast_retries=True)
    assert result.task_states == {"with_default": "success", "without": "failed",
                                  "entry": "success"}
    assert result.xcom_pull("with_default")["chosen_options"] == ["b"]
    assert result.xcom_pull("entry") == {"chosen_options": ["OK"],
                                         "params_input": {"who": "nobody"},
                                         "responded_by": None}
    (without,) = [t for t in result.tasks if t.label == "without"]
    assert without.error is not None and "no response within 0:05:00" in without.error


def test_bad_answers_are_refused_and_change_nothing(on_wait: Any) -> None:
    errors: list[str] = []
    store = MemoryStore(open_pools=True)

    def act() -> None:
        key = TaskInstanceKey("ask", _run_id(store, "ask"), "choose")
        for options, params in ((["mars"], None), (["eu", "us"], None), (["eu"], {"x": 1})):
            try:
                hitl.respond(store, key, options, params, "ana", datetime.now(UTC))
            except InvalidInputError as exc:
                errors.append(str(exc))
        hitl.respond(store, key, ["eu"], None, "ana", datetime.now(UTC))
        with pytest.raises(ConflictError, match="has a response already"):
            hitl.respond(store, key, ["us"], None, "bob", datetime.now(UTC))

    with DAG("ask", schedule=None, start_date=START) as dag:
        HITLOperator(task_id="choose", subject="?", options=["eu", "us"], poke_interval=0.01)
    on_wait(act)
    result = run_dag_test(dag, logical_date=START, store=store)
    assert result.xcom_pull("choose")["chosen_options"] == ["eu"]
    assert errors == [
        "task instance choose: ['mars'] not among the options ['eu', 'us']",
        "task instance choose: choose one option only (multiple=False), got ['eu', 'us']",
        "task instance choose: unknown params ['x']; it asks for []",
    ]
    with pytest.raises(ConflictError, match="is not waiting for a response"):
        hitl.respond(store, TaskInstanceKey("ask", _run_id(store, "ask"), "choose"), ["eu"],
                     None, "ana", datetime.now(UTC))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"options": []}, "options must be a non-empty list"),
    ({"options": ["a", "a"]}, "distinct"),
    ({"options": ["a"], "defaults": "z"}, r"\['z'\] not among the options"),
    ({"options": ["a", "b"], "defaults": ["a", "b"]}, "choose one option only"),
    ({"options": ["a"], "response_timeout": 5}, "response_timeout must be a positive"),
])
def test_bad_requests_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DagDefinitionError, match=message):
        HITLOperator(task_id="t", subject="?", **kwargs)
