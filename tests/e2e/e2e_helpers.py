"""What several browser tests do: log in, start a run, wait on the live grid for it to end."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Locator, Page, expect

from tests.e2e.standalone import Standalone

RUN_TIMEOUT_MS = 90_000
"""A small example run takes seconds; the margin is for a busy two-core machine."""

FINISHED = re.compile(r"^(success|failed)$")

TASKFLOW_DAG = "taskflow_sales_summary"
TASKFLOW_TASKS = ("extract_orders", "split_by_region", "region_total", "report.summarise",
                  "report.announce")
"""The tasks of examples/dags/taskflow_sales_summary.py (region_total is mapped)."""


def log_in(page: Page, username: str, password: str) -> None:
    """Fill in and submit the login form."""
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("#login-form button[type=submit]").click()


def new_run_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def trigger_with_api(server: Standalone, dag_id: str, run_id: str) -> None:
    """Queue a manual run through the REST API."""
    response = server.api("POST", f"/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id})
    assert response.status_code == 200, response.text


def run_bar(page: Page, run_id: str) -> Locator:
    return page.locator(f'#grid .run-bar[data-run-id="{run_id}"]')


def task_cells(page: Page, run_id: str) -> Locator:
    return page.locator(f'#grid a.cell[data-run-id="{run_id}"]')


def open_task_from_grid(page: Page, run_id: str, task_id: str) -> None:
    """Click the task's cell in the grid (its details open beside the grid), then the
    panel's link to the task's own page."""
    task_cells(page, run_id).and_(page.locator(f"[data-task-id='{task_id}']")).click()
    panel = page.locator("#details-panel")
    expect(panel.locator(f"[data-task-id='{task_id}']")).to_have_count(1)
    panel.locator("#details-open").click()
    expect(page).to_have_url(re.compile(r"/task\?"))


def wait_in_grid_until_finished(page: Page, dag_id: str, run_id: str) -> None:
    """Open the DAG's grid and wait, as its live updates arrive, until the run has ended;
    then require it to have succeeded."""
    if not page.url.endswith(f"/dags/{dag_id}/grid"):
        page.goto(f"/dags/{dag_id}/grid")
    expect(run_bar(page, run_id)).to_have_attribute("data-state", FINISHED,
                                                    timeout=RUN_TIMEOUT_MS)
    expect(run_bar(page, run_id), f"run {run_id} of {dag_id} did not succeed").to_have_attribute(
        "data-state", "success")
