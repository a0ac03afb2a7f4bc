"""``millstream tasks respond``: show what a waiting human-in-the-loop task asks, answer it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cli_helpers import Cli, assert_one_line_error

from millstream.cli.common import open_store
from millstream.model.states import TaskState
from millstream.store.records import TaskInstanceKey
from millstream.store.state_store_records import TaskStateScope

GATED = """
from datetime import datetime

from millstream import DAG
from millstream.operators.empty import EmptyOperator
from millstream.operators.hitl import ApprovalOperator

with DAG("gated", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    ApprovalOperator(task_id="approve", subject="Ship it?", body="release 2.4",
                     params={"note": ""}) >> EmptyOperator(task_id="ship")
"""


def _waiting(cli: Cli) -> str:
    """A run whose approve task has deferred, its request stored (as the task does)."""
    cli.seed(GATED, "gated.py")
    run_id = cli.ok("dags", "trigger", "gated", "--logical-date", "2026-01-01").strip()
    now = datetime.now(UTC)
    request = {"subject": "Ship it?", "body": "release 2.4", "options": ["Approve", "Reject"],
               "multiple": False, "defaults": [], "params": {"note": ""},
               "assigned_users": []}
    with open_store() as store:
        ti = store.task_instances.get(TaskInstanceKey("gated", run_id, "approve"))
        assert ti is not None
        for step in (TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING,
                     TaskState.DEFERRED):
            ti = store.task_instances.set_state(ti, step)
        store.state_stores.set_task_state(TaskStateScope("gated", run_id, "approve"),
                                          "hitl_request", json.dumps(request), None, now)
    return run_id


def test_respond_shows_the_question_then_records_the_answer(cli: Cli) -> None:
    run_id = _waiting(cli)
    out = cli.ok("tasks", "respond", "gated", run_id, "approve")
    assert out.splitlines()[:3] == ["Ship it?", "release 2.4", "options: Approve, Reject"]
    out = cli.ok("tasks", "respond", "gated", "2026-01-01", "approve", "--option", "Approve",
                 "--param", "note=looks good")
    assert out.strip() == "answered gated.approve: Approve"
    with open_store() as store:
        text = store.state_stores.get_task_state(TaskStateScope("gated", run_id, "approve"),
                                                 "hitl_response", datetime.now(UTC))
    answer = json.loads(text or "null")
    assert answer["chosen_options"] == ["Approve"]
    assert answer["params_input"] == {"note": "looks good"}
    code, _, err = cli("tasks", "respond", "gated", run_id, "approve", "--option", "Reject")
    assert code != 0
    assert_one_line_error(err, "has a response already")


def test_a_bad_answer_is_one_line_and_changes_nothing(cli: Cli) -> None:
    run_id = _waiting(cli)
    code, _, err = cli("tasks", "respond", "gated", run_id, "approve", "--option", "Maybe")
    assert code != 0
    assert_one_line_error(err, "['Maybe'] not among the options ['Approve', 'Reject']")
    code, _, err = cli("tasks", "respond", "gated", run_id, "ship", "--option", "Approve")
    assert code != 0
    assert_one_line_error(err, "task instance ship is not waiting for a response")
    with open_store() as store:
        assert store.state_stores.get_task_state(TaskStateScope("gated", run_id, "approve"),
                                                 "hitl_response", datetime.now(UTC)) is None
