"""The grid, graph and Gantt views of a finished run; the grid and graph are saved as images."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.e2e_helpers import (
    TASKFLOW_DAG,
    TASKFLOW_TASKS,
    new_run_id,
    task_cells,
    trigger_with_api,
    wait_in_grid_until_finished,
)
from tests.e2e.standalone import Standalone

pytestmark = pytest.mark.e2e

# extract_orders, split_by_region, three mapped region_total, summarise, announce
TRIES_IN_A_RUN = 7


@pytest.fixture(scope="module")
def finished_run(server: Standalone) -> str:
    """The id of a run of the TaskFlow example, triggered through the REST API (the tests
    wait for it to finish on the live grid)."""
    run_id = new_run_id("e2e_views")
    trigger_with_api(server, TASKFLOW_DAG, run_id)
    return run_id


def test_grid_view(admin_page: Page, finished_run: str, artifacts: Path) -> None:
    page = admin_page
    wait_in_grid_until_finished(page, TASKFLOW_DAG, finished_run)
    cells = task_cells(page, finished_run)
    expect(cells).to_have_count(len(TASKFLOW_TASKS))
    for index in range(len(TASKFLOW_TASKS)):
        expect(cells.nth(index)).to_have_attribute("data-state", "success")
    expect(page.locator("#grid tbody tr[data-kind='group'][data-row-id='report']")).to_be_visible()

    page.screenshot(path=artifacts / "grid.png", full_page=True)


def test_graph_view(admin_page: Page, finished_run: str, artifacts: Path) -> None:
    page = admin_page
    wait_in_grid_until_finished(page, TASKFLOW_DAG, finished_run)
    page.goto(f"/dags/{TASKFLOW_DAG}/graph?run_id={finished_run}&expand=*")

    graph = page.locator("#graph")
    expect(graph).to_have_attribute("data-run-id", finished_run)
    expect(page.locator("#run-select")).to_have_value(finished_run)
    nodes = graph.locator("g.node[data-task-id]")
    expect(nodes).to_have_count(len(TASKFLOW_TASKS))
    for task_id in TASKFLOW_TASKS:
        node = graph.locator(f"g.node[data-task-id='{task_id}']")
        expect(node).to_have_attribute("data-state", "success")
        expect(node.locator("rect.state")).to_have_class(re.compile(r"\bst-success\b"))
    expect(graph.locator("path.edge[data-source='extract_orders']"
                         "[data-target='split_by_region']")).to_have_count(1)
    expect(graph.locator("path.edge[data-source='report.summarise']"
                         "[data-target='report.announce']")).to_have_count(1)
    expect(graph.locator("g.group-box-g[data-group-id='report']")).to_have_attribute(
        "data-state", "success")

    page.screenshot(path=artifacts / "graph.png", full_page=True)

    # A node leads to its task instance in this run.
    graph.locator("g.node[data-task-id='extract_orders']").click()
    expect(page.locator("#task-label")).to_have_text("extract_orders")
    expect(page).to_have_url(re.compile(rf"run_id={finished_run}"))


def test_gantt_view(admin_page: Page, finished_run: str) -> None:
    page = admin_page
    wait_in_grid_until_finished(page, TASKFLOW_DAG, finished_run)
    page.goto(f"/dags/{TASKFLOW_DAG}/gantt?run_id={finished_run}")

    bars = page.locator("#gantt rect.bar")
    expect(bars).to_have_count(TRIES_IN_A_RUN)
    for index in range(TRIES_IN_A_RUN):
        expect(bars.nth(index)).to_have_attribute("data-state", "success")
    expect(page.locator("#gantt rect.bar[data-task-id='report.announce']")).to_have_count(1)
    expect(page.locator("#gantt")).to_have_attribute(
        "aria-label", f"Gantt chart of run {finished_run}")


def test_the_api_explorer_works_with_no_internet(admin_page: Page, server: Standalone) -> None:
    page = admin_page
    offsite: list[str] = []

    def local_only(route: Route) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.locator("#api-docs-link").click()
    expect(page).to_have_url(re.compile(r"/api/v1/docs$"))
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("millstream REST API")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    assert offsite == []
