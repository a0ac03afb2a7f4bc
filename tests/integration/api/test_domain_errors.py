"""The domain's errors are mapped once per front end; any other exception is a bug.

The API answers NotFoundError, ConflictError and InvalidInputError with problem details
(404, 409, 422), the UI with an error page (404, 409, 400), the CLI with one line and
exit code 2. A KeyError or ValueError escaping a route is a 500 / a traceback, never a
"not found".
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient

from millstream.api.deps import StoreDep
from millstream.cli.common import EXIT_BAD_INPUT, guarded
from millstream.exceptions import (
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    StoreUsageError,
)
from millstream.ui.server import create_app
from tests.integration.api.api_helpers import ApiEnv

RAISED: dict[str, Exception] = {
    "not-found": NotFoundError("no DAG 'ghost'"),
    "conflict": ConflictError("DAG 'etl' already has a run 'r1'"),
    "invalid": InvalidInputError("bad conf: not JSON"),
    "invalid-field": InvalidInputError("body.conf does not fit the DAG's params: 'n'",
                                       field="body.conf"),
    "key-error": KeyError("a bug, not a missing DAG"),
    "value-error": ValueError("a bug, not bad input"),
}


def _raiser(name: str) -> object:
    def route(store: StoreDep) -> None:
        raise RAISED[name]

    return route


@pytest.fixture
def client(api: ApiEnv) -> Iterator[TestClient]:
    """The real web server with routes that raise, under the API and among the UI's pages."""
    app = create_app(api.settings)
    mount = next(r for r in app.router.routes if getattr(r, "name", "") == "api")
    api_app = mount.app  # type: ignore[attr-defined]
    assert isinstance(api_app, FastAPI)
    for name in RAISED:
        api_app.add_api_route(f"/test-raise/{name}", _raiser(name))  # type: ignore[arg-type]
        app.add_api_route(f"/test-raise/{name}", _raiser(name))  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize("name, status", [
    ("not-found", 404), ("conflict", 409), ("invalid", 422), ("invalid-field", 422),
    ("key-error", 500), ("value-error", 500),
])
def test_the_api_maps_each_domain_error_once_and_a_bug_is_a_500(
        client: TestClient, name: str, status: int) -> None:
    response = client.get(f"/api/v1/test-raise/{name}")
    assert response.status_code == status, response.text
    if status == 500:
        assert "a bug" not in response.text  # nothing of a bug's message leaks as a reason
        return
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    if name == "invalid-field":
        assert problem["detail"] == "body.conf: does not fit the DAG's params: 'n'"
        assert problem["errors"] == [{"loc": "body.conf",
                                      "msg": "does not fit the DAG's params: 'n'"}]
    else:
        assert problem["detail"] == str(RAISED[name])


@pytest.mark.parametrize("name, status", [
    ("not-found", 404), ("conflict", 409), ("invalid", 400), ("key-error", 500),
    ("value-error", 500),
])
def test_the_ui_shows_each_domain_error_as_a_page_and_a_bug_is_a_500(
        client: TestClient, name: str, status: int) -> None:
    response = client.get(f"/test-raise/{name}")
    assert response.status_code == status, response.text
    if status != 500:
        assert "text/html" in response.headers["content-type"]
        assert str(RAISED[name]).replace("'", "&#39;") in response.text


def test_a_route_of_the_real_api_with_a_bug_is_a_500_not_a_404(
        api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """A KeyError from inside a real action is a 500, though it used to read as "not found"."""
    def broken(*args: object, **kwargs: object) -> bool:
        return {}["is_paused"]  # type: ignore[no-any-return]

    monkeypatch.setattr("millstream.api.routes.dags.set_paused", broken)
    app = create_app(api.settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.patch("/api/v1/dags/api_etl", json={"is_paused": True},
                                     headers=api.headers("op"))
    assert response.status_code == 500


@pytest.mark.parametrize("error", [NotFoundError("no DAG 'x'"), ConflictError("taken"),
                                   InvalidInputError("bad --conf")])
def test_the_cli_prints_a_domain_error_as_one_line_and_exits_2(
        error: DomainError, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exited, guarded():
        raise error
    assert exited.value.exit_code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.strip() == f"Error: {error}"


@pytest.mark.parametrize("bug", [KeyError("x"), ValueError("y"), StoreUsageError("z")])
def test_the_cli_lets_a_bug_through_with_its_traceback(bug: Exception) -> None:
    with pytest.raises(type(bug)), guarded():
        raise bug


def test_domain_errors_are_not_builtin_lookup_or_value_errors() -> None:
    for error in (NotFoundError, ConflictError, InvalidInputError):
        assert issubclass(error, DomainError)
        assert not issubclass(error, KeyError | ValueError)
