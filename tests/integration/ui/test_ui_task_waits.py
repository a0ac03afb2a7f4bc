"""A task's page waits for the instance's next try: what the page tells its script, and the
JSON the script polls while the instance has work ahead of it (after a clear, a retry ...)."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from millstream.model.states import TaskState
from millstream.store.records import TaskInstanceKey, TaskTryRecord
from tests.integration.ui.conftest import Seeded
from tests.integration.ui.ui_helpers import UiEnv, form_fields, run_query

INSTANCE_JSON = "/ui/api/dags/ui_etl/task"


class _ElementById(HTMLParser):
    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id = element_id
        self.found: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id") == self.element_id and self.found is None:
            self.found = values


def attributes(html: str, element_id: str) -> dict[str, str | None]:
    parser = _ElementById(element_id)
    parser.feed(html)
    assert parser.found is not None, f"the page has no #{element_id}"
    return parser.found


def _head(ui: UiEnv, run_id: str, task_id: str, **params: Any) -> dict[str, str | None]:
    page = ui.get("viewer", "/dags/ui_etl/task", run_id=run_id, task_id=task_id, **params)
    assert page.status_code == 200, page.text
    return attributes(page.text, "task-head")


def _instance(ui: UiEnv, run_id: str, task_id: str, **params: Any) -> dict[str, Any]:
    response = ui.get("viewer", INSTANCE_JSON, run_id=run_id, task_id=task_id, **params)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()  # type: ignore[no-any-return]


def test_a_finished_task_page_does_not_wait(ui: UiEnv, seeded: Seeded) -> None:
    run_id = seeded.etl_runs[0]
    head = _head(ui, run_id, "load")
    query = run_query(run_id, task_id="load")
    assert head["data-instance-url"] == f"{INSTANCE_JSON}?{query}"
    assert head["data-page-url"] == f"/dags/ui_etl/task?{query}"
    assert (head["data-try"], head["data-try-number"], head["data-unfinished"],
            head["data-busy"]) == ("1", "1", "false", "false")
    assert _instance(ui, run_id, "load") == {
        "state": "success", "try_number": 1, "busy": False, "finished": True,
        "tries": [{"try_number": 1, "state": "success"}]}
    mapped = _head(ui, run_id, "square", map_index=2)
    assert mapped["data-page-url"] == (
        f"/dags/ui_etl/task?{run_query(run_id, task_id='square', map_index=2)}")
    assert _instance(ui, run_id, "square", map_index=2)["state"] == "success"


def test_after_a_clear_the_page_waits_and_the_json_shows_the_new_try(
        ui: UiEnv, seeded: Seeded) -> None:
    run_id = seeded.etl_runs[1]
    confirm = ui.get("op", f"/dags/ui_etl/clear?{run_query(run_id, task_id='load')}")
    cleared = ui.post("op", "/dags/ui_etl/clear", form_fields(confirm.text, "confirm-form"))
    assert cleared.status_code == 303
    assert cleared.headers["location"] == f"/dags/ui_etl/task?{run_query(run_id, task_id='load')}"

    # The page still shows the finished first try, and waits for the next one.
    head = _head(ui, run_id, "load")
    assert (head["data-try"], head["data-try-number"], head["data-unfinished"],
            head["data-busy"]) == ("1", "1", "true", "false")
    assert _instance(ui, run_id, "load") == {
        "state": "none", "try_number": 1, "busy": False, "finished": False,
        "tries": [{"try_number": 1, "state": "success"}]}

    # The scheduler queues try 2: the script sees a new try and opens its page.
    store = ui.store()
    key = TaskInstanceKey("ui_etl", run_id, "load")
    with store.transaction():
        ti = store.task_instances.get(key)
        assert ti is not None
        ti = store.task_instances.set_state(ti, TaskState.SCHEDULED)
        ti = store.task_instances.set_state(ti, TaskState.QUEUED, try_number=2)
    assert _instance(ui, run_id, "load") == {
        "state": "queued", "try_number": 2, "busy": True, "finished": False,
        "tries": [{"try_number": 1, "state": "success"}, {"try_number": 2, "state": "queued"}]}
    second = ui.get("viewer", "/dags/ui_etl/task", run_id=run_id, task_id="load", **{"try": 2})
    assert 'data-finished="false"' in second.text  # its log is followed
    assert attributes(second.text, "task-head")["data-try"] == "2"
    first = _head(ui, run_id, "load", **{"try": 1})  # an older try, read on purpose
    assert (first["data-try"], first["data-try-number"]) == ("1", "2")
    assert 'data-try="2" data-state="queued"' in second.text

    # Try 2 fails and is up for retry: the instance still has work ahead of it.
    now = datetime.now(UTC)
    with store.transaction():
        ti = store.task_instances.get(key)
        assert ti is not None
        ti = store.task_instances.set_state(ti, TaskState.RUNNING, start_date=now)
        ti = store.task_instances.set_state(ti, TaskState.UP_FOR_RETRY, end_date=now,
                                       error="flaky")
        store.task_instances.record_try(TaskTryRecord(key, 2, TaskState.UP_FOR_RETRY, now,
                                                      now, "flaky"))
    waiting = _instance(ui, run_id, "load")
    assert (waiting["state"], waiting["busy"], waiting["finished"]) == (
        "up_for_retry", False, False)
    assert waiting["tries"][-1] == {"try_number": 2, "state": "up_for_retry"}
    assert _head(ui, run_id, "load")["data-unfinished"] == "true"


def test_the_instance_json_names_what_is_missing(ui: UiEnv, seeded: Seeded) -> None:
    missing = ui.get("viewer", INSTANCE_JSON, run_id=seeded.etl_runs[0], task_id="nope")
    assert missing.status_code == 404 and "no task instance &#39;nope&#39;" in missing.text
    assert ui.get("viewer", INSTANCE_JSON, run_id="no_such_run", task_id="load"
                  ).status_code == 404
    anonymous = ui.get(None, INSTANCE_JSON, run_id=seeded.etl_runs[0], task_id="load")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=%2Fui%2Fapi%2Fdags%2Fui_etl")
