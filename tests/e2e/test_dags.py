"""The DAG list: the example DAGs are there, and a DAG is paused and unpaused with its toggle."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.standalone import EXAMPLE_DAG_IDS, Standalone

pytestmark = pytest.mark.e2e

PAUSED_DAG = "conditional_processing_pipeline"
"""Used by no other browser test, so pausing it changes nothing they rely on."""


def test_the_example_dags_are_listed(admin_page: Page) -> None:
    page = admin_page
    page.goto("/dags")

    for dag_id in EXAMPLE_DAG_IDS:
        row = page.locator(f"#dag-table tbody tr[data-dag-id='{dag_id}']")
        expect(row.locator("a.dag-id")).to_have_text(dag_id)
        expect(row.locator("a.dag-id")).to_have_attribute("href", f"/dags/{dag_id}/grid")
    # The examples load without errors.
    expect(page.locator("#import-errors")).to_have_count(0)

    page.locator("#dag-table a.dag-id", has_text="taskflow_sales_summary").click()
    expect(page).to_have_url(re.compile(r"/dags/taskflow_sales_summary/grid$"))
    expect(page.locator("#dag-id")).to_have_text("taskflow_sales_summary")


def test_the_search_box_filters_the_list(admin_page: Page) -> None:
    page = admin_page
    page.goto("/dags")
    page.get_by_role("searchbox", name="Search DAGs").fill("sales")
    page.locator("form.filters button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/dags\?search=sales$"))
    rows = page.locator("#dag-table tbody tr[data-dag-id]")
    expect(rows.filter(has=page.locator("a.dag-id", has_text="taskflow_sales_summary"))
           ).to_have_count(1)
    expect(page.locator("#dag-table tbody tr[data-dag-id='parallel_data_sync']")).to_have_count(0)


def test_pausing_a_dag_with_its_toggle(admin_page: Page, server: Standalone) -> None:
    page = admin_page
    page.goto("/dags")
    row = page.locator(f"#dag-table tbody tr[data-dag-id='{PAUSED_DAG}']")
    toggle = row.locator(f"#pause-{PAUSED_DAG} button.toggle")
    expect(toggle).to_have_attribute("data-paused", "false")

    toggle.click()

    expect(toggle).to_have_attribute("data-paused", "true")
    expect(row).to_have_class(re.compile(r"\bpaused-row\b"))
    page.reload()
    expect(toggle).to_have_attribute("data-paused", "true")
    expect(toggle).to_have_attribute("aria-label", f"Paused: unpause {PAUSED_DAG}")
    assert server.api("GET", f"/dags/{PAUSED_DAG}").json()["is_paused"] is True
    # The "Paused" filter lists it.
    page.locator(".status-filter a", has_text="Paused").click()
    expect(page.locator(f"#dag-table tbody tr[data-dag-id='{PAUSED_DAG}']")).to_have_count(1)

    # And back: unpaused from the DAG's own page.
    page.goto(f"/dags/{PAUSED_DAG}/grid")
    header_toggle = page.locator(f"#pause-{PAUSED_DAG} button.toggle")
    expect(header_toggle).to_have_attribute("data-paused", "true")
    header_toggle.click()
    expect(page).to_have_url(re.compile(rf"/dags/{PAUSED_DAG}/grid$"))
    expect(header_toggle).to_have_attribute("data-paused", "false")
    assert server.api("GET", f"/dags/{PAUSED_DAG}").json()["is_paused"] is False
