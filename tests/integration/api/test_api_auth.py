"""Authentication and CSRF: bearer tokens, cookie sessions that logout ends, the CSRF check
for cookie-authenticated unsafe requests, and the contract the UI's login pages use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated

import pytest
from fastapi import Depends, Form, Request, Response
from fastapi.testclient import TestClient

from millstream.api import accounts
from millstream.api.accounts import authenticate
from millstream.api.auth import (
    CSRF_HEADER,
    SESSION_COOKIE,
    Role,
    User,
    csrf_token,
    end_session,
    optional_user,
    require_role,
    start_session,
    verify_csrf,
)
from millstream.api.deps import StoreDep, utcnow
from millstream.api.problems import Problem
from millstream.ui.server import create_app
from tests.integration.api.api_helpers import PASSWORDS, ApiEnv


@pytest.fixture
def browser(api: ApiEnv) -> Iterator[TestClient]:
    """The app with a login form, a logout and a page, as the UI builds them."""
    app = create_app(api.settings)

    @app.get("/test/form")
    def form(request: Request, user: Annotated[User | None, Depends(optional_user)]
             ) -> dict[str, str | None]:
        return {"csrf_token": csrf_token(request), "user": user.username if user else None}

    @app.post("/test/login", dependencies=[Depends(verify_csrf)])
    def login(response: Response, username: Annotated[str, Form()],
              password: Annotated[str, Form()],
              store: StoreDep) -> dict[str, str]:
        user = authenticate(store, username, password)
        if user is None:
            raise Problem(401, "wrong username or password")
        start_session(response, store, user)
        return {"user": user.username}

    @app.post("/test/logout", dependencies=[Depends(verify_csrf)])
    def logout(request: Request, response: Response,
               store: StoreDep) -> dict[str, bool]:
        end_session(request, response, store)
        return {"ok": True}

    @app.get("/test/admin-only")
    def admin_only(user: Annotated[User, Depends(require_role(Role.ADMIN))]) -> dict[str, str]:
        return {"user": user.username}

    with TestClient(app) as client:
        yield client


def log_in(browser: TestClient, username: str) -> str:
    token = browser.get("/test/form").json()["csrf_token"]
    response = browser.post("/test/login", data={"username": username,
                                                 "password": PASSWORDS[username],
                                                 "csrf_token": token})
    assert response.status_code == 200, response.text
    return str(browser.get("/test/form").json()["csrf_token"])


def test_no_credentials_is_a_401_problem_with_a_challenge(api: ApiEnv) -> None:
    response = api.get(None, "/dags")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    assert "Authorization: Bearer" in response.json()["detail"]


def test_a_bad_expired_or_revoked_token_is_a_401(api: ApiEnv) -> None:
    response = api.get(None, "/dags", headers={"Authorization": "Bearer ms_nope_nope"})
    assert response.status_code == 401
    assert "unknown, revoked or expired" in response.json()["detail"]
    store = api.store()
    now = utcnow()
    revoked, token = accounts.create_token(store, "viewer", "tests", now)
    accounts.delete_token(store, revoked.token_id, "tests", now)
    assert api.get(None, "/dags", headers={"Authorization": f"Bearer {token}"}
                   ).status_code == 401
    _, token = accounts.create_token(store, "viewer", "tests", now - timedelta(days=2),
                                       expires_in=timedelta(days=1))
    assert api.get(None, "/dags", headers={"Authorization": f"Bearer {token}"}
                   ).status_code == 401
    _, token = accounts.create_token(store, "viewer", "tests", now,
                                         expires_in=timedelta(days=1))
    assert api.get(None, "/dags", headers={"Authorization": f"Bearer {token}"}
                   ).status_code == 200


def test_a_deleted_users_token_stops_working(api: ApiEnv) -> None:
    assert api.get("viewer", "/dags").status_code == 200
    accounts.delete_user(api.store(), "viewer", "tests", utcnow())
    assert api.get("viewer", "/dags").status_code == 401


def test_a_role_too_low_is_a_403_naming_the_role_needed(api: ApiEnv) -> None:
    response = api.get("op", "/users")
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "user 'op' has the role 'op'; this needs 'admin' or higher")


def test_me_says_who_is_asking(api: ApiEnv) -> None:
    body = api.get("op", "/auth/me").json()
    assert (body["username"], body["role"]) == ("op", "op")


def test_login_sets_an_http_only_session_cookie_and_logout_ends_it(
        api: ApiEnv, browser: TestClient) -> None:
    assert browser.get("/api/v1/dags").status_code == 401
    log_in(browser, "viewer")
    cookie = next(c for c in browser.cookies.jar if c.name == SESSION_COOKIE)
    assert cookie.has_nonstandard_attr("HttpOnly") and not cookie.secure
    secret = cookie.value
    assert browser.get("/api/v1/dags").status_code == 200
    assert browser.get("/test/form").json()["user"] == "viewer"
    user = api.store().users.get("viewer")
    assert user is not None and user.last_login is not None
    token = browser.get("/test/form").json()["csrf_token"]
    assert browser.post("/test/logout", data={"csrf_token": token}).status_code == 200
    assert browser.get("/api/v1/dags").status_code == 401
    # The old cookie, replayed, no longer opens a session: it ended on the server.
    browser.cookies.set(SESSION_COOKIE, secret)
    assert browser.get("/api/v1/dags").status_code == 401


def test_a_wrong_password_logs_nobody_in(browser: TestClient) -> None:
    token = browser.get("/test/form").json()["csrf_token"]
    response = browser.post("/test/login", data={"username": "viewer", "password": "wrong!!!",
                                                 "csrf_token": token})
    assert response.status_code == 401
    unknown = browser.post("/test/login", data={"username": "nobody", "password": "wrong!!!",
                                                "csrf_token": token})
    assert unknown.status_code == 401
    assert SESSION_COOKIE not in browser.cookies


def test_the_login_form_needs_its_csrf_token(browser: TestClient) -> None:
    browser.get("/test/form")  # sets the per-browser CSRF cookie
    response = browser.post("/test/login", data={"username": "viewer",
                                                 "password": PASSWORDS["viewer"]})
    assert response.status_code == 403
    assert "CSRF check failed" in response.text  # on the UI's error page
    forged = browser.post("/test/login", data={"username": "viewer",
                                               "password": PASSWORDS["viewer"],
                                               "csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert SESSION_COOKIE not in browser.cookies


def test_cookie_sessions_need_the_csrf_token_for_unsafe_api_calls(
        api: ApiEnv, browser: TestClient) -> None:
    token = log_in(browser, "op")
    body = {"is_paused": True}
    refused = browser.patch("/api/v1/dags/api_etl", json=body)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    record = api.store().dags.get("api_etl")
    assert record is not None and not record.is_paused
    accepted = browser.patch("/api/v1/dags/api_etl", json=body, headers={CSRF_HEADER: token})
    assert accepted.status_code == 200 and accepted.json()["is_paused"] is True
    assert api.store().audit.list(limit=1)[0].who == "op"


def test_bearer_requests_need_no_csrf_token(api: ApiEnv) -> None:
    response = api.patch("op", "/dags/api_etl", json={"is_paused": True})
    assert response.status_code == 200


def test_the_csrf_token_is_bound_to_the_session(browser: TestClient) -> None:
    before = browser.get("/test/form").json()["csrf_token"]
    after = log_in(browser, "op")
    assert before != after
    stale = browser.patch("/api/v1/dags/api_etl", json={"is_paused": True},
                          headers={CSRF_HEADER: before})
    assert stale.status_code == 403


def test_require_role_guards_ui_pages_too(browser: TestClient) -> None:
    assert browser.get("/test/admin-only").status_code == 401
    log_in(browser, "op")
    assert browser.get("/test/admin-only").status_code == 403
    browser.cookies.clear()
    log_in(browser, "admin")
    assert browser.get("/test/admin-only").json() == {"user": "admin"}


def test_passwords_are_stored_as_argon2_hashes(api: ApiEnv) -> None:
    record = api.store().users.get("admin")
    assert record is not None
    assert record.password_hash.startswith("$argon2id$")
    assert PASSWORDS["admin"] not in record.password_hash
