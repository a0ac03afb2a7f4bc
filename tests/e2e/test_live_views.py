"""The run page while its run is live, the grid's hover card and details panel, the trigger
form's widgets and the overview, in a real browser against a real standalone. Each test
saves a screenshot under test-artifacts/e2e/ and prints its path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.e2e_helpers import (
    RUN_TIMEOUT_MS,
    TASKFLOW_DAG,
    TASKFLOW_TASKS,
    new_run_id,
    task_cells,
    trigger_with_api,
    wait_in_grid_until_finished,
)
from tests.e2e.standalone import Standalone

pytestmark = pytest.mark.e2e

ERROR_DAG = "robust_error_handling_pipeline"


def shot(page: Page, artifacts: Path, name: str) -> Path:
    path = artifacts / name
    page.screenshot(path=path, full_page=True)
    print(f"screenshot: {path}")
    return path


def test_the_run_page_follows_a_live_run(admin_page: Page, server: Standalone,
                                         artifacts: Path) -> None:
    page = admin_page
    run_id = new_run_id("e2e_live")
    # Paused, the DAG's new run waits queued: the page is open before anything runs.
    assert server.api("PATCH", f"/dags/{TASKFLOW_DAG}", json={"is_paused": True}).is_success
    try:
        page.goto(f"/dags/{TASKFLOW_DAG}/trigger")
        page.locator("#run_id").fill(run_id)
        page.locator("#trigger-form button[type=submit]").click()
        expect(page).to_have_url(re.compile(rf"/dags/{TASKFLOW_DAG}/run\?run_id={run_id}$"))
        header, panel = page.locator("#run-state"), page.locator("#run-panel-state")
        expect(header).to_have_attribute("data-state", "queued")
        expect(panel).to_have_attribute("data-state", "queued")
        page.evaluate("window.__notReloaded = true")
    finally:
        assert server.api("PATCH", f"/dags/{TASKFLOW_DAG}",
                          json={"is_paused": False}).is_success

    # The page follows the run as it goes, without a reload.
    expect(header).to_have_attribute("data-state", "success", timeout=RUN_TIMEOUT_MS)
    expect(panel).to_have_attribute("data-state", "success")
    expect(header.locator(".badge")).to_have_text("success")
    expect(panel.locator(".badge")).to_have_text("success")
    assert page.evaluate("window.__notReloaded") is True
    expect(page.locator("[data-run-field='start_date']")).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"))
    rows = page.locator("#ti-rows tr[data-task-id]")
    expect(rows).to_have_count(len(TASKFLOW_TASKS) + 2)  # three map indexes of region_total
    for index in range(rows.count()):
        row = rows.nth(index)
        expect(row.locator(".ti-state")).to_have_attribute("data-state", "success")
        # the cell holding the badge keeps its own look: no state colour on the cell
        expect(row.locator("td.ti-state")).not_to_have_class(re.compile(r"\bst-"))
        expect(row.locator(".ti-try")).to_have_text(re.compile(r"^1\b"))
        expect(row.locator(".ti-start")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d "))
    shot(page, artifacts, "run-page-live.png")


def test_the_grid_card_and_details_panel(admin_page: Page, server: Standalone,
                                         artifacts: Path) -> None:
    page = admin_page
    run_id = new_run_id("e2e_details")
    trigger_with_api(server, TASKFLOW_DAG, run_id)
    wait_in_grid_until_finished(page, TASKFLOW_DAG, run_id)
    cell = task_cells(page, run_id).and_(page.locator("[data-task-id='extract_orders']"))

    cell.hover()
    card = page.locator("#grid-card")
    expect(card).to_be_visible()
    expect(card).to_contain_text("extract_orders")
    expect(card).to_contain_text("try")
    expect(card).to_contain_text("duration")
    shot(page, artifacts, "grid-hover-card.png")

    cell.click()
    panel = page.locator("#details-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("#details-task")).to_have_text("extract_orders")
    expect(panel.locator("#details-state")).to_have_attribute("data-state", "success")
    expect(panel.locator("#details-log")).not_to_be_empty()
    expect(panel.locator("a", has_text="Clear")).to_be_visible()
    expect(page).to_have_url(re.compile(r"task_id=extract_orders"))
    expect(page.locator("#grid")).to_be_visible()  # beside the grid, not instead of it
    shot(page, artifacts, "grid-details-panel.png")

    page.reload()  # the address keeps the panel open
    expect(page.locator("#details-task")).to_have_text("extract_orders")

    page.locator(f"#grid a.run-head-link[data-run-id='{run_id}']").click()
    expect(panel.locator("h2")).to_contain_text(run_id)
    expect(panel.locator("h2")).to_contain_text("Run")
    page.locator("#close-details").click()
    expect(panel).to_be_hidden()

    cell.click()  # the task page is a click away from the panel
    panel.locator("#details-open").click()
    expect(page).to_have_url(re.compile(rf"/dags/{TASKFLOW_DAG}/task\?"))


def test_the_trigger_form_widgets_and_the_overview(admin_page: Page, server: Standalone,
                                                   artifacts: Path) -> None:
    page = admin_page
    run_id = new_run_id("e2e_form_widgets")
    page.goto(f"/dags/{ERROR_DAG}/trigger")
    expect(page.locator("#view-form")).to_have_attribute("aria-current", "page")
    field = page.locator(".param-field[data-param='scenario']")
    expect(field).to_have_attribute("data-widget", "select")
    select = field.locator("select[name='param.scenario']")
    expect(select).to_have_value('"success"')
    expect(field.locator(".constraints")).to_contain_text('one of "success"')
    shot(page, artifacts, "trigger-form.png")
    select.select_option(label="data_issue")
    page.locator("#run_id").fill(run_id)
    page.locator("#trigger-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/dags/{ERROR_DAG}/run\?run_id={run_id}$"))
    expect(page.locator("#run-conf")).to_contain_text('"scenario": "data_issue"')
    expect(page.locator("#run-state")).to_have_attribute("data-state", "failed",
                                                         timeout=RUN_TIMEOUT_MS)

    # The JSON view is one click away.
    page.goto(f"/dags/{ERROR_DAG}/trigger")
    page.locator("#view-json").click()
    expect(page.locator("#conf")).to_have_value(re.compile(r'"scenario": "success"'))

    # The overview lists the failure, and its row leads to the failed try's log.
    page.locator("#overview-link").click()
    expect(page).to_have_url(re.compile(r"/overview$"))
    row = page.locator(f"#failed-tasks tr[data-dag-id='{ERROR_DAG}'][data-run-id='{run_id}']")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Data validation failed")
    expect(page.locator(f"#failed-runs tr[data-run-id='{run_id}']")).to_have_count(1)
    expect(page.locator("#health-scheduler")).to_have_attribute("data-status", "healthy")
    expect(page.locator("#health-triggerer")).to_have_attribute("data-status", "healthy")
    expect(page.locator("#pools tr[data-pool='default_pool']")).to_have_count(1)
    shot(page, artifacts, "overview.png")
    row.locator("a.log-link").click()
    expect(page).to_have_url(re.compile(rf"/dags/{ERROR_DAG}/task\?"))
    expect(page.locator("#log")).to_contain_text("Data validation failed")


def test_charts_and_graph_zoom(admin_page: Page, server: Standalone, artifacts: Path) -> None:
    page = admin_page
    run_id = new_run_id("e2e_charts")
    trigger_with_api(server, TASKFLOW_DAG, run_id)
    wait_in_grid_until_finished(page, TASKFLOW_DAG, run_id)
    page.goto(f"/dags/{TASKFLOW_DAG}/charts")
    expect(page.locator(f"#run-durations rect.bar[data-run-id='{run_id}']")).to_have_count(1)
    expect(page.locator("#task-durations g.series").first).to_be_visible()
    expect(page.locator("#run-calendar rect.day").first).to_be_visible()
    shot(page, artifacts, "charts.png")

    page.goto(f"/dags/{TASKFLOW_DAG}/graph?run_id={run_id}&expand=*")
    graph = page.locator("#graph")
    fitted = graph.get_attribute("viewBox")
    page.locator("#zoom-in").click()
    expect(graph).not_to_have_attribute("viewBox", fitted or "")
    page.locator("#zoom-fit").click()
    expect(graph).to_have_attribute("viewBox", re.compile(r"^0\.0 0\.0 "))
    expect(graph.locator("g.node[data-task-id='region_total'] .map-count")).to_have_text("[3]")
    expect(graph.locator("g.node[data-task-id='extract_orders'] .node-duration")).to_be_visible()
    shot(page, artifacts, "graph.png")
