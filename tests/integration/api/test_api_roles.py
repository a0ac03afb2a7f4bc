"""Every route of the API against every role: 401 without credentials, 403 below the role it
needs, success at that role, 404 for an unknown resource, 422 for bad input.

A test also checks that this table names every route of the OpenAPI schema, so a new route
cannot go without its role being checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from millstream.model.states import TaskState
from millstream.runtime.worker import try_log_path
from millstream.store.records import TaskInstanceKey
from tests.integration.api.api_helpers import ROLES, ApiEnv

RUN = "/dags/api_etl/dagRuns/r1"
TI = f"{RUN}/taskInstances/extract"


@dataclass(frozen=True)
class Route:
    """One route, the least role it needs, and requests that succeed, miss and are bad."""

    method: str
    template: str  # as in the OpenAPI schema
    role: str | None  # None: public
    path: str  # a request that succeeds
    json: Any = None
    missing: str | None = None  # a path naming something that does not exist (404)
    bad: str | None = None  # a path with a bad query (422) ...
    bad_json: Any = None  # ... or the good path with a bad body (422)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.method} {self.template}"


ROUTES = [
    Route("GET", "/health", None, "/health"),
    Route("GET", "/version", None, "/version"),
    Route("GET", "/importErrors", "viewer", "/importErrors", bad="/importErrors?limit=0"),
    Route("GET", "/deadlineMisses", "viewer", "/deadlineMisses",
          bad="/deadlineMisses?limit=0"),
    Route("GET", "/dags", "viewer", "/dags", bad="/dags?offset=-1"),
    Route("GET", "/dags/{dag_id}", "viewer", "/dags/api_etl", missing="/dags/nope"),
    Route("PATCH", "/dags/{dag_id}", "op", "/dags/api_etl", json={"is_paused": True},
          missing="/dags/nope", bad_json={"is_paused": "x"}),
    Route("GET", "/dags/{dag_id}/source", "viewer", "/dags/api_etl/source",
          missing="/dags/nope/source"),
    Route("GET", "/dags/{dag_id}/structure", "viewer", "/dags/api_etl/structure",
          missing="/dags/nope/structure", bad="/dags/api_etl/structure?version=" + "v" * 65),
    Route("GET", "/dags/{dag_id}/dagRuns", "viewer", "/dags/api_etl/dagRuns",
          missing="/dags/nope/dagRuns", bad="/dags/api_etl/dagRuns?state=x"),
    Route("POST", "/dags/{dag_id}/dagRuns", "op", "/dags/api_etl/dagRuns",
          json={"dag_run_id": "new"}, missing="/dags/nope/dagRuns", bad_json={"conf": 3}),
    Route("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}", "viewer", RUN,
          missing="/dags/api_etl/dagRuns/nope"),
    Route("PATCH", "/dags/{dag_id}/dagRuns/{dag_run_id}", "op", RUN, json={"state": "failed"},
          missing="/dags/api_etl/dagRuns/nope", bad_json={"state": "x"}),
    Route("DELETE", "/dags/{dag_id}/dagRuns/{dag_run_id}", "op", RUN,
          missing="/dags/api_etl/dagRuns/nope"),
    Route("POST", "/dags/{dag_id}/dagRuns/{dag_run_id}/clear", "op", f"{RUN}/clear", json={},
          missing="/dags/api_etl/dagRuns/nope/clear", bad_json={"dry_run": "x"}),
    Route("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances", "viewer",
          f"{RUN}/taskInstances", missing="/dags/api_etl/dagRuns/nope/taskInstances",
          bad=f"{RUN}/taskInstances?state=x"),
    Route("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}", "viewer", TI,
          missing=f"{RUN}/taskInstances/nope", bad=f"{TI}?map_index=-9"),
    Route("PATCH", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}", "op", TI,
          json={"state": "failed"}, missing=f"{RUN}/taskInstances/nope",
          bad_json={"state": "x"}),
    Route("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/tries",
          "viewer", f"{TI}/tries", missing=f"{RUN}/taskInstances/nope/tries",
          bad=f"{TI}/tries?limit=x"),
    Route("POST", "/dags/{dag_id}/clearTaskInstances", "op", "/dags/api_etl/clearTaskInstances",
          json={"dag_run_id": "r1", "task_ids": ["extract"]},
          missing="/dags/nope/clearTaskInstances", bad_json={"dag_run_id": "r1"}),
    Route("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries",
          "viewer", f"{TI}/xcomEntries", missing=f"{RUN}/taskInstances/nope/xcomEntries",
          bad=f"{TI}/xcomEntries?offset=x"),
    Route("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/"
          "{xcom_key}", "viewer", f"{TI}/xcomEntries/return_value",
          missing=f"{TI}/xcomEntries/nope", bad=f"{TI}/xcomEntries/return_value?map_index=x"),
    Route("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/"
          "{try_number}", "viewer", f"{TI}/logs/1", missing=f"{TI}/logs/2",
          bad=f"{TI}/logs/0"),
    Route("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/"
          "{try_number}/stream", "viewer", f"{TI}/logs/1/stream",
          missing=f"{TI}/logs/2/stream", bad=f"{TI}/logs/x/stream"),
    Route("GET", "/pools", "viewer", "/pools", bad="/pools?limit=5000"),
    Route("POST", "/pools", "op", "/pools", json={"name": "new_pool", "slots": 2},
          bad_json={"name": "x", "slots": -1}),
    Route("GET", "/pools/{pool_name}", "viewer", "/pools/etl_pool", missing="/pools/nope"),
    Route("PATCH", "/pools/{pool_name}", "op", "/pools/etl_pool", json={"slots": 9},
          missing="/pools/nope", bad_json={"slots": "many"}),
    Route("DELETE", "/pools/{pool_name}", "op", "/pools/etl_pool", missing="/pools/nope"),
    Route("GET", "/variables", "op", "/variables", bad="/variables?limit=0"),
    Route("POST", "/variables", "op", "/variables", json={"key": "k2", "value": "v"},
          bad_json={"key": "k 2", "value": "v"}),
    Route("GET", "/variables/{variable_key}", "op", "/variables/region",
          missing="/variables/nope"),
    Route("PATCH", "/variables/{variable_key}", "op", "/variables/region",
          json={"value": "south"}, missing="/variables/nope", bad_json={"value": 3}),
    Route("DELETE", "/variables/{variable_key}", "op", "/variables/region",
          missing="/variables/nope"),
    Route("GET", "/connections", "op", "/connections", bad="/connections?offset=-3"),
    Route("POST", "/connections", "op", "/connections",
          json={"conn_id": "c2", "conn_type": "http"}, bad_json={"conn_id": "c2"}),
    Route("GET", "/connections/{conn_id}", "op", "/connections/warehouse",
          missing="/connections/nope"),
    Route("PATCH", "/connections/{conn_id}", "op", "/connections/warehouse",
          json={"host": "h"}, missing="/connections/nope", bad_json={"port": 0}),
    Route("DELETE", "/connections/{conn_id}", "op", "/connections/warehouse",
          missing="/connections/nope"),
    Route("GET", "/auth/me", "viewer", "/auth/me"),
    Route("GET", "/users", "admin", "/users", bad="/users?limit=0"),
    Route("POST", "/users", "admin", "/users",
          json={"username": "newbie", "password": "long-enough", "role": "viewer"},
          bad_json={"username": "newbie", "password": "short"}),
    Route("GET", "/users/{username}", "admin", "/users/viewer", missing="/users/nope"),
    Route("PATCH", "/users/{username}", "admin", "/users/viewer", json={"role": "op"},
          missing="/users/nope", bad_json={"role": "king"}),
    Route("DELETE", "/users/{username}", "admin", "/users/viewer", missing="/users/nope"),
]


def seed_world(api: ApiEnv) -> None:
    """A finished run with a log and an XCom, a pool, a variable and a connection."""
    api.add_run("r1")
    api.start_run("r1")
    api.set_task("r1", "extract", TaskState.SUCCESS)
    key = TaskInstanceKey("api_etl", "r1", "extract")
    path = try_log_path(api.log_folder, key, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("extracted\n", encoding="utf-8")
    store = api.store()
    store.xcoms.set_many(key, [("return_value", "3")])
    store.pools.set("etl_pool", 4, "for the ETL")
    api.post("admin", "/variables", json={"key": "region", "value": "north"})
    api.post("admin", "/connections", json={"conn_id": "warehouse", "conn_type": "postgres"})


def test_the_table_names_every_route_of_the_schema(api: ApiEnv) -> None:
    schema = api.get(None, "/openapi.json").json()
    in_schema = {f"{method.upper()} {path}" for path, item in schema["paths"].items()
                 for method in item}
    assert in_schema == {route.id for route in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.id)
def test_route_roles_and_errors(api: ApiEnv, route: Route) -> None:
    seed_world(api)

    def call(role: str | None, path: str, json: Any = None) -> int:
        kwargs = {"json": json} if json is not None else {}
        return api.call(role, route.method, path, **kwargs).status_code

    if route.role is None:
        assert call(None, route.path) == 200
        return
    assert call(None, route.path, route.json) == 401
    allowed = ROLES[ROLES.index(route.role):]
    for role in ROLES:
        if role not in allowed:
            assert call(role, route.path, route.json) == 403, role
    if route.missing is not None:
        assert call(route.role, route.missing, route.json) == 404
    if route.bad is not None:
        assert call(route.role, route.bad, route.json) == 422
    if route.bad_json is not None:
        assert call(route.role, route.path, route.bad_json) == 422
    assert call(route.role, route.path, route.json) in (200, 204)
