"""Logging in to the web UI with the password standalone printed, and a login that fails."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.e2e_helpers import log_in
from tests.e2e.standalone import Standalone

pytestmark = pytest.mark.e2e


def test_a_page_sends_you_to_log_in_and_back(page: Page, server: Standalone) -> None:
    page.goto("/dags/taskflow_sales_summary/grid")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fdags%2Ftaskflow_sales_summary%2Fgrid$"))

    page.locator("#username").fill("admin")
    page.locator("#password").fill(server.admin_password)
    page.locator("#login-form button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/dags/taskflow_sales_summary/grid$"))
    expect(page.locator("header .username")).to_have_text("admin")
    expect(page.locator("header .role-badge")).to_have_text("admin")
    expect(page.locator("#dag-id")).to_have_text("taskflow_sales_summary")


def test_a_wrong_password_is_refused_with_a_clear_message(page: Page) -> None:
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/login")) as answer:
        log_in(page, "admin", "not-the-password")

    assert answer.value.status == 401
    expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("#username")).to_have_value("admin")
    expect(page.locator("#password")).to_have_value("")
    expect(page.locator("header .username")).to_have_count(0)
    # Still nobody is logged in: the pages send this browser back to the login form.
    page.goto("/dags")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fdags$"))


def test_an_unknown_user_gets_the_same_message(page: Page) -> None:
    log_in(page, "nobody-like-this", "whatever-password")

    expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
    expect(page.locator("header .username")).to_have_count(0)


def test_logging_out_ends_the_session(admin_page: Page) -> None:
    page = admin_page
    page.locator("header form[action='/logout'] button").click()

    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/dags")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fdags$"))
