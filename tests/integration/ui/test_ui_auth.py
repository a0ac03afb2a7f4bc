"""Logging in and out, CSRF on every form, and no open redirect after login."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from millstream.api.login_gate import LoginGate, policy_from_settings
from millstream.model.states import TaskState
from millstream.store.records import TaskInstanceKey
from tests.integration.ui.conftest import Seeded
from tests.integration.ui.ui_helpers import UiEnv, csrf_of, login


def test_a_failed_login_says_so_without_telling_which_part_was_wrong(ui: UiEnv) -> None:
    client = ui.client(None)
    wrong_password = login(client, "admin", "not-the-password")
    unknown_user = login(client, "nobody-here", "admin-password")
    empty = login(client, "", "")
    for response in (wrong_password, unknown_user, empty):
        assert response.status_code == 401
        assert "Wrong username or password." in response.text
        assert "session" not in response.headers.get("set-cookie", "")
    # The same page either way: nothing tells whether the username exists.
    assert wrong_password.text.replace('value="admin"', "") == \
        unknown_user.text.replace('value="nobody-here"', "").replace(
            csrf_of(unknown_user.text), csrf_of(wrong_password.text))
    assert client.get("/dags", follow_redirects=False).status_code == 303


def test_login_goes_to_the_page_asked_for_but_never_off_site(ui: UiEnv) -> None:
    good = login(TestClient(ui.app), "viewer", "viewer-password", "/dags/ui_etl/graph")
    assert (good.status_code, good.headers["location"]) == (303, "/dags/ui_etl/graph")
    for evil in ("https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:x"):
        response = login(TestClient(ui.app), "viewer", "viewer-password", evil)
        assert (response.status_code, response.headers["location"]) == (303, "/dags"), evil


def test_logging_out_ends_the_session(ui: UiEnv) -> None:
    client = TestClient(ui.app)
    assert login(client, "op", "op-password").status_code == 303
    page = client.get("/dags")
    assert page.status_code == 200
    session = client.cookies.get("millstream_session")
    out = client.post("/logout", data={"csrf_token": csrf_of(page.text)},
                      follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert client.get("/dags", follow_redirects=False).status_code == 303
    # The old cookie is dead on the server too, not only forgotten by this browser.
    replay = TestClient(ui.app, cookies={"millstream_session": session or ""})
    assert replay.get("/dags", follow_redirects=False).status_code == 303


def test_forms_without_the_pages_csrf_token_change_nothing(ui: UiEnv, seeded: Seeded) -> None:
    run = seeded.etl_runs[0]
    posts = [
        ("/dags/ui_etl/pause", {"paused": "true", "next": "/dags"}),
        ("/dags/ui_etl/trigger", {"conf": "{}"}),
        ("/dags/ui_etl/clear", {"run_id": run, "task_id": "extract"}),
        ("/dags/ui_etl/mark", {"run_id": run, "task_id": "load", "state": "failed"}),
        ("/admin/pools", {"name": "evil", "slots": "3"}),
        ("/admin/variables", {"key": "evil", "value": "1"}),
        ("/admin/users", {"username": "evil", "password": "evil-password", "role": "admin"}),
        ("/logout", {}),
    ]
    for token in (None, "forged-token"):
        for path, data in posts:
            form = data if token is None else {**data, "csrf_token": token}
            response = ui.post("admin", path, form)
            assert response.status_code == 403, (path, token)
            assert "CSRF token is missing or wrong" in response.text
    store = ui.store()
    record = store.dags.get("ui_etl")
    assert record is not None and record.is_paused is False
    assert len(store.runs.list("ui_etl")) == len(seeded.etl_runs)
    ti = store.task_instances.get(TaskInstanceKey("ui_etl", run, "load"))
    assert ti is not None and ti.state is TaskState.SUCCESS
    assert [p[0] for p in store.pools.list()] == ["default_pool"]
    assert store.users.get("evil") is None
    assert ui.get("admin", "/dags").status_code == 200  # still logged in


def test_a_token_from_another_browser_is_refused(ui: UiEnv) -> None:
    theirs = csrf_of(ui.get("op", "/dags").text)
    response = ui.post("admin", "/dags/ui_etl/pause",
                       {"paused": "true", "next": "/dags", "csrf_token": theirs})
    assert response.status_code == 403
    record = ui.store().dags.get("ui_etl")
    assert record is not None and not record.is_paused


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _throttled_app(ui: UiEnv) -> _Clock:
    """Gives the app a login gate with a clock the test moves (the default policy)."""
    clock = _Clock()
    context = ui.app.state.millstream
    ui.app.state.login_gate = LoginGate(
        context.open_store, policy_from_settings(ui.settings.webserver), clock=clock)
    return clock


def test_after_five_wrong_passwords_the_account_waits_even_with_the_right_one(
        ui: UiEnv) -> None:
    clock = _throttled_app(ui)
    client = ui.client(None)
    assert [login(client, "op", f"guess-{i}").status_code for i in range(5)] == [401] * 5
    refused = login(client, "op", "op-password")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"
    assert "Too many failed logins for this account or from this address: try again in 30 s." \
        in refused.text
    assert "millstream_session" not in refused.headers.get("set-cookie", "")
    # Another account, even from the same address, is not held back.
    assert login(TestClient(ui.app), "viewer", "viewer-password").status_code == 303
    # The lockout is audited, under the account it locked.
    store = ui.store()
    locked = [r for r in store.audit.list(None, limit=20) if r.event == "login locked out"]
    assert [(r.who, r.extra["seconds"]) for r in locked] == [("op", 30.0)]
    clock.now += timedelta(seconds=31)
    assert login(client, "op", "op-password").status_code == 303


def test_an_address_guessing_many_usernames_is_locked_out(ui: UiEnv) -> None:
    _throttled_app(ui)
    client = ui.client(None)
    codes = [login(client, f"made-up-{i}", "guess").status_code for i in range(21)]
    assert codes == [401] * 20 + [429]
    assert login(client, "admin", "admin-password").status_code == 429
