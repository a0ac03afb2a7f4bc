"""The UI's "next run" is the run the scheduler creates next, however many manual runs
came after its last scheduled one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from millstream.authoring.dag import DAG
from millstream.operators.empty import EmptyOperator
from millstream.parsing.serialize import DagStructure
from millstream.scheduler.runs import create_due_runs
from millstream.services import trigger
from tests.integration.ui.ui_helpers import DAY, UiEnv

MANUAL_RUNS = 12  # more than any page shows of recent runs


def _catchup_dag() -> DagStructure:
    with DAG("ui_resume", schedule="@daily", start_date=DAY, catchup=True) as dag:
        EmptyOperator(task_id="only")
    return DagStructure.from_dag(dag)


def _shown_next_run(html: str) -> tuple[str, str]:
    """(logical date, due at) of the next run a page shows: the due time in the cell, the
    logical date in its title."""
    found = re.search(r'class="next-run" title="logical date ([^"]+) UTC">([^<]+)</span>', html)
    assert found, "the page shows no next run"
    return found.group(1), found.group(2)


def test_next_run_after_many_manual_runs_is_the_one_the_scheduler_creates(ui: UiEnv) -> None:
    store = ui.store()
    structure = _catchup_dag()
    now = datetime.now(UTC)
    store.dags.upsert(structure.dag_id, None, structure.to_json(), structure.version, now)
    with store.transaction():
        scheduled = create_due_runs(store, structure, now, limit=3)
    assert [r.logical_date for r in scheduled] == [DAY + timedelta(days=d) for d in range(3)]
    for day in range(MANUAL_RUNS):  # newer than every scheduled run
        trigger.trigger_run(store, structure.dag_id, who="tests", now=now,
                            logical_date=DAY + timedelta(days=30 + day))

    header = _shown_next_run(ui.get("viewer", f"/dags/{structure.dag_id}/grid").text)
    listed = ui.get("viewer", "/dags").text
    row = re.search(r'data-dag-id="ui_resume">(.*?)</tr>', listed, re.S)
    assert row is not None
    in_list = _shown_next_run(row.group(1))

    with store.transaction():
        [created] = create_due_runs(store, structure, now, limit=1)
    assert created.logical_date == DAY + timedelta(days=3)
    # The cell says when it is due (the end of its data interval); its title the logical date.
    assert header == in_list == (created.logical_date.strftime("%Y-%m-%d %H:%M:%S"),
                                 created.data_interval_end.strftime("%Y-%m-%d %H:%M"))
