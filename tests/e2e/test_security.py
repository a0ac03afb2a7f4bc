"""What an attacker or a curious viewer meets in the browser: password guessing is locked
out, and a secret a task returned shows as *** on its page."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from millstream.config import load_settings
from millstream.store.records import TaskInstanceKey
from millstream.store.sql import SqlStore
from tests.e2e.e2e_helpers import (
    TASKFLOW_DAG,
    log_in,
    new_run_id,
    trigger_with_api,
    wait_in_grid_until_finished,
)
from tests.e2e.standalone import Standalone

pytestmark = pytest.mark.e2e


def test_guessing_a_password_locks_the_account_out(page: Page, server: Standalone) -> None:
    created = server.cli("users", "create", "guessed", "--role", "viewer",
                         "--generate-password")
    assert created.returncode == 0, created.stderr
    found = re.search(r"^password: (\S+)$", created.stdout, re.MULTILINE)
    assert found, created.stdout
    password = found.group(1)
    for guess in range(5):
        log_in(page, "guessed", f"guess-{guess}")
        expect(page.locator("#login-error")).to_have_text("Wrong username or password.")

    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/login")) as answer:
        log_in(page, "guessed", password)  # even the right password waits now
    assert answer.value.status == 429
    assert answer.value.headers["retry-after"] == "30"
    expect(page.locator("#login-error")).to_have_text(re.compile(
        r"^Too many failed logins for this account or from this address: try again in \d+ s\.$"))
    expect(page.locator("header .username")).to_have_count(0)


def test_a_secret_a_task_returned_shows_as_stars_on_its_page(admin_page: Page,
                                                             server: Standalone) -> None:
    page = admin_page
    added = server.cli("connections", "add", "e2e_warehouse", "--conn-type", "postgres",
                       "--conn-password", "e2e-pass-90210", "--overwrite")
    assert added.returncode == 0, added.stderr
    run_id = new_run_id("masked")
    trigger_with_api(server, TASKFLOW_DAG, run_id)
    wait_in_grid_until_finished(page, TASKFLOW_DAG, run_id)
    # What a careless task would have returned: a DSN with the warehouse's password in it.
    settings = load_settings(home=server.home, environ={})
    store = SqlStore.from_url(settings.database.url)
    try:
        with store.transaction():
            store.xcoms.set_many(TaskInstanceKey(TASKFLOW_DAG, run_id, "extract_orders"), [
                ("dsn", json.dumps("postgres://etl:e2e-pass-90210@db/sales"))])
    finally:
        store.close()
        store.engine.dispose()

    page.goto(f"/dags/{TASKFLOW_DAG}/task?run_id={run_id}&task_id=extract_orders")
    expect(page.locator("#xcoms")).to_contain_text("postgres://etl:***@db/sales")
    expect(page.locator("body")).not_to_contain_text("e2e-pass-90210")
