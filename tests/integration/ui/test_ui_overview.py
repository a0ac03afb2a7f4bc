"""The UI's home: failures and live work across every DAG in a window, each linked to its log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from millstream.model.states import DagRunState, TaskState
from millstream.services import trigger
from millstream.store.records import DagRunRecord, TaskInstanceKey, TaskInstanceRecord
from tests.integration.ui.conftest import Seeded
from tests.integration.ui.ui_helpers import UiEnv


def section(page: str, section_id: str) -> str:
    found = re.search(rf'<div class="card" id="{section_id}">(.*?)\n</div>', page, re.S)
    assert found is not None, section_id
    return found.group(1)


def test_home_is_the_overview(ui: UiEnv) -> None:
    response = ui.get("viewer", "/")
    assert (response.status_code, response.headers["location"]) == (303, "/overview")
    page = ui.get("viewer", "/overview").text
    assert 'id="overview-link" aria-current="page"' in page


def test_a_recent_failure_is_listed_with_a_link_to_its_log(ui: UiEnv, seeded: Seeded) -> None:
    # The seeded failed run ended just now (its tasks ran when the template was made).
    page = ui.get("viewer", "/overview", hours=24).text
    tasks = section(page, "failed-tasks")
    row = re.search(r'<tr data-dag-id="ui_failing" data-task-id="explode" '
                    rf'data-run-id="{re.escape(seeded.failed_run)}">(.*?)</tr>', tasks, re.S)
    assert row is not None, tasks
    assert "the warehouse is on fire" in row.group(1)
    log = re.search(r'class="log-link" href="([^"]+)"', row.group(1))
    assert log is not None
    target = log.group(1).replace("&amp;", "&")
    assert target.startswith("/dags/ui_failing/task?") and "task_id=explode" in target \
        and "try=1" in target
    assert ui.client("viewer").get(target).status_code == 200
    runs = section(page, "failed-runs")
    assert f'data-run-id="{seeded.failed_run}"' in runs and "explode" in runs
    assert re.search(r'id="count-failed-runs">1<', page)
    assert re.search(r'id="count-import-errors">1<', page)  # the seeded broken file
    assert "broken_&lt;i&gt;.py" in section(page, "import-errors")


def test_the_window_leaves_out_older_failures(ui: UiEnv, seeded: Seeded) -> None:
    store = ui.store()
    long_ago = datetime.now(UTC) - timedelta(days=8)
    old = DagRunRecord("ui_failing", "old_failure", long_ago, long_ago, long_ago, "manual",
                       DagRunState.FAILED, start_date=long_ago, end_date=long_ago)
    with store.transaction():
        store.runs.add(old)
        store.task_instances.add_many([TaskInstanceRecord(
            "ui_failing", "old_failure", "explode", state=TaskState.FAILED, try_number=1,
            start_date=long_ago, end_date=long_ago, error="an old fire")])
    page = ui.get("viewer", "/overview", hours=168).text
    assert "old_failure" not in page and "an old fire" not in page
    assert f'data-run-id="{seeded.failed_run}"' in section(page, "failed-runs")
    assert re.search(r'id="count-failed-tasks">1<', page)


def test_running_work_services_and_pools(ui: UiEnv) -> None:
    store = ui.store()
    run = trigger.trigger_run(store, "ui_failing", who="tests",
                              now=datetime.now(UTC) - timedelta(minutes=5), run_id="live_ov")
    run = store.runs.set_state(run, DagRunState.RUNNING, start_date=run.queued_at)
    ti = store.task_instances.get(TaskInstanceKey("ui_failing", run.run_id, "start", -1))
    assert ti is not None
    for state in (TaskState.SCHEDULED, TaskState.QUEUED):
        ti = store.task_instances.set_state(ti, state)
    store.task_instances.set_state(ti, TaskState.RUNNING, try_number=1,
                                   start_date=datetime.now(UTC), hostname="worker-7")
    page = ui.get("viewer", "/overview").text
    running = section(page, "running-tasks")
    assert 'data-task-id="start" data-run-id="live_ov"' in running and "worker-7" in running
    assert 'data-run-id="live_ov"' in page.split('id="running-runs"')[1]
    pools = section(page, "pools")
    assert re.search(r'<tr data-pool="default_pool">\s*<td class="mono">default_pool</td>'
                     r'<td>\d+</td><td>1</td><td>0</td>', pools), pools
    # No scheduler has run against this database.
    assert 'id="health-scheduler" data-status="not seen"' in page


def test_a_window_that_is_not_offered_falls_back_to_a_day(ui: UiEnv) -> None:
    page = ui.get("viewer", "/overview", hours="5000").text
    assert '<b aria-current="true">24 h</b>' in page
