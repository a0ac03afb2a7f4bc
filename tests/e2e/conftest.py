"""Browser tests' fixtures: one real standalone server, Debian's chromium, failure artifacts."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.e2e.e2e_helpers import log_in
from tests.e2e.standalone import Standalone, keep_output, start_standalone

CHROMIUM = Path("/usr/bin/chromium")
# This machine's closed network refuses connections: chromium must not try to make any
# of its own (updates, sync, QUIC probes) or it stalls waiting for them.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
VIEWPORT = {"width": 1400, "height": 900}
ACTION_TIMEOUT_MS = 15_000

expect.set_options(timeout=ACTION_TIMEOUT_MS)

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _failed(item: pytest.Item) -> bool:
    reports = item.stash.get(_REPORTS, {})
    return any(r.failed for r in reports.values())


@pytest.fixture(scope="package")
def artifacts() -> Path:
    """Where screenshots and page HTML go (kept out of git); a new session starts without
    the previous one's failures."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in ARTIFACTS.glob("failed-*"):
        stale.unlink()
    return ARTIFACTS


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[Standalone]:
    """``millstream standalone`` with the example DAGs, on a fresh home and a free port."""
    standalone = start_standalone(tmp_path_factory.mktemp("standalone"))
    try:
        yield standalone
    finally:
        standalone.stop()
        keep_output(standalone, artifacts)


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's chromium; missing, the browser tests fail (scripts/setup-browser installs it).

    Each launch gets a fresh temporary profile (user data dir) from Playwright.
    """
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"the browser tests need chromium at {CHROMIUM}: run scripts/setup-browser",
                    pytrace=False)
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Browser, server: Standalone,
         artifacts: Path) -> Iterator[Page]:
    """A new page in a fresh browser context (no cookies) whose base URL is the server.

    On failure the page's screenshot and HTML are saved under test-artifacts/e2e/. Any
    uncaught JavaScript error on a page fails the test.
    """
    context = browser.new_context(base_url=server.url, viewport=VIEWPORT)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    js_errors: list[str] = []
    page.on("pageerror", lambda error: js_errors.append(f"{page.url}: {error}"))
    try:
        yield page
        if _failed(request.node):
            _save_failure(page, request.node, artifacts, js_errors)
        assert not js_errors, "JavaScript errors on the pages:\n" + "\n".join(js_errors)
    finally:
        context.close()


def _save_failure(page: Page, item: pytest.Item, folder: Path, js_errors: list[str]) -> None:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid.split("::", 1)[-1])
    stem = folder / f"failed-{Path(item.nodeid.split('::')[0]).stem}-{name}"
    try:
        page.screenshot(path=f"{stem}.png", full_page=True)
        html = page.content()
    except Exception as exc:  # a crashed page: save what can be saved, keep the real failure
        html = f"<!-- could not read the page: {exc} -->"
    header = f"<!-- {page.url} -->\n" + "".join(f"<!-- JS error: {e} -->\n" for e in js_errors)
    Path(f"{stem}.html").write_text(header + html, encoding="utf-8")


@pytest.fixture
def admin_page(page: Page, server: Standalone) -> Page:
    """``page``, logged in as the generated admin through the login form."""
    log_in(page, "admin", server.admin_password)
    expect(page).to_have_url(re.compile(r"/dags$"))
    return page
