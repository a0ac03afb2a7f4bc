"""Triggering a run from the UI, watching it turn green in the grid, reading a task's log."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.e2e_helpers import (
    RUN_TIMEOUT_MS,
    TASKFLOW_DAG,
    TASKFLOW_TASKS,
    new_run_id,
    open_task_from_grid,
    task_cells,
    trigger_with_api,
    wait_in_grid_until_finished,
)
from tests.e2e.standalone import Standalone

pytestmark = pytest.mark.e2e

ORDERS_TOTAL = "572.0"  # the sum of the sample orders in the example DAG's file


def test_a_run_triggered_from_the_form_turns_green_and_logs(admin_page: Page,
                                                            server: Standalone) -> None:
    page = admin_page
    run_id = new_run_id("e2e_form")
    page.goto("/dags")
    page.locator(f"#dag-table tr[data-dag-id='{TASKFLOW_DAG}'] a[href$='/trigger']").click()
    expect(page).to_have_url(re.compile(rf"/dags/{TASKFLOW_DAG}/trigger$"))
    page.locator("#run_id").fill(run_id)
    page.locator("#trigger-form button[type=submit]").click()

    expect(page).to_have_url(re.compile(rf"/dags/{TASKFLOW_DAG}/run\?run_id={run_id}$"))
    expect(page.locator("#run-id")).to_have_text(run_id)
    page.locator(f".crumbs a[href='/dags/{TASKFLOW_DAG}/grid']").click()

    wait_in_grid_until_finished(page, TASKFLOW_DAG, run_id)
    cells = task_cells(page, run_id)
    expect(cells).to_have_count(len(TASKFLOW_TASKS))
    for task_id in TASKFLOW_TASKS:
        cell = cells.and_(page.locator(f"[data-task-id='{task_id}']"))
        expect(cell).to_have_attribute("data-state", "success")
        expect(cell).to_have_class(re.compile(r"\bst-success\b"))
    expect(page.locator(f"#grid [data-group-id='report'][data-run-id='{run_id}']")
           ).to_have_attribute("data-state", "success")

    # The bash task's log shows its rendered command's output.
    open_task_from_grid(page, run_id, "report.announce")
    expect(page).to_have_url(re.compile(r"/dags/taskflow_sales_summary/task\?"))
    expect(page.locator("#task-label")).to_have_text("report.announce")
    expect(page.locator("#ti-state")).to_have_attribute("data-state", "success")
    ds = server.api("GET", f"/dags/{TASKFLOW_DAG}/dagRuns/{run_id}").json()["logical_date"][:10]
    expect(page.locator("#log")).to_contain_text(f"sales for {ds}: {ORDERS_TOTAL} across 5 orders")

    # The mapped task's page lists one instance per region.
    page.go_back()
    open_task_from_grid(page, run_id, "region_total")
    instances = page.locator("#mapped-instances .ti-state")
    expect(instances).to_have_count(3)
    for index in range(3):
        expect(instances.nth(index)).to_have_attribute("data-state", "success")


def test_a_bad_conf_is_refused_and_starts_no_run(admin_page: Page, server: Standalone) -> None:
    page = admin_page
    run_id = new_run_id("e2e_bad_conf")
    page.goto(f"/dags/{TASKFLOW_DAG}/trigger")
    page.locator("#conf").fill('{"region": "north",}')
    page.locator("#run_id").fill(run_id)
    page.locator("#trigger-form button[type=submit]").click()

    expect(page.locator("#trigger-error")).to_contain_text("Conf is not valid JSON")
    expect(page.locator("#conf")).to_have_value('{"region": "north",}')
    assert server.api("GET", f"/dags/{TASKFLOW_DAG}/dagRuns/{run_id}").status_code == 404


def test_clearing_a_task_runs_it_again(admin_page: Page, server: Standalone) -> None:
    page = admin_page
    run_id = new_run_id("e2e_clear")
    trigger_with_api(server, TASKFLOW_DAG, run_id)
    wait_in_grid_until_finished(page, TASKFLOW_DAG, run_id)
    open_task_from_grid(page, run_id, "report.summarise")
    expect(page.locator("#ti-state")).to_have_attribute("data-state", "success")

    page.locator("#task-actions a", has_text="Clear").click()
    # Downstream tasks are cleared with it by default: announce uses summarise's result.
    affected = page.locator("#affected li")
    expect(affected).to_have_count(2)
    expect(page.locator("#affected li[data-task-id='report.summarise']")).to_have_count(1)
    expect(page.locator("#affected li[data-task-id='report.announce']")).to_have_count(1)
    page.locator("#confirm-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/task\?run_id=.*&task_id=report.summarise$"))

    wait_in_grid_until_finished(page, TASKFLOW_DAG, run_id)
    open_task_from_grid(page, run_id, "report.announce")
    expect(page.locator("#ti-state")).to_have_attribute("data-state", "success")
    expect(page.locator("#tries tbody tr")).to_have_count(2)
    expect(page.locator("a.badge[data-try='2'][aria-current='true']")).to_have_count(1)
    expect(page.locator("#log")).to_contain_text(f"{ORDERS_TOTAL} across 5 orders")
    # The first try's log is still there.
    page.locator("a.badge[data-try='1']").click()
    expect(page.locator("#log")).to_contain_text(f"{ORDERS_TOTAL} across 5 orders")


def test_a_cleared_tasks_page_follows_its_next_try(admin_page: Page, server: Standalone) -> None:
    page = admin_page
    run_id = new_run_id("e2e_follow")
    trigger_with_api(server, TASKFLOW_DAG, run_id)
    wait_in_grid_until_finished(page, TASKFLOW_DAG, run_id)
    open_task_from_grid(page, run_id, "report.announce")
    expect(page.locator("#ti-state")).to_have_attribute("data-state", "success")

    page.locator("#task-actions a", has_text="Clear").click()
    expect(page.locator("#affected li")).to_have_count(1)  # the last task: nothing downstream
    page.locator("#confirm-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/task\?run_id=.*&task_id=report.announce$"))

    # Without reloading by hand, the page moves on to the new try and follows its log.
    expect(page.locator("a.badge[data-try='2'][aria-current='true']")).to_have_count(
        1, timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#ti-state")).to_have_attribute("data-state", "success",
                                                        timeout=RUN_TIMEOUT_MS)
    expect(page.locator("a.badge[data-try='1']")).to_have_count(1)
    expect(page.locator("#log")).to_contain_text(f"{ORDERS_TOTAL} across 5 orders")
