"""Property-based fuzzing of the API's writes: whatever the body, a request either succeeds
and stores something that follows the rules, or gets a 4xx and stores nothing. Never a 5xx.
(test_api_schemathesis checks every operation against the schema; this checks the store.)
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from millstream.model.identifiers import Identifier, is_identifier
from tests.integration.api.api_helpers import ApiEnv

BUDGET = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))

ids = st.one_of(st.text(max_size=30), st.sampled_from(
    ["../x", "..", " a", "a b", "a\nb", "x" * 300, "ok_1", "manual__x"]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                  max_size=3),
    max_leaves=10,
)
deep = st.integers(1, 200).map(lambda n: json.loads('{"a": ' * n + "1" + "}" * n))
moments = st.one_of(st.none(), st.text(max_size=25), st.sampled_from(
    ["9999-12-31T23:59:59-14:00", "2026-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00"]))


def test_triggers_store_a_whole_run_or_nothing(api: ApiEnv) -> None:
    @BUDGET
    @given(run_id=st.none() | ids, conf=st.one_of(json_values, deep), logical_date=moments)
    def check(run_id: str | None, conf: Any, logical_date: str | None) -> None:
        body: dict[str, Any] = {"conf": conf}
        if run_id is not None:
            body["dag_run_id"] = run_id
        if logical_date is not None:
            body["logical_date"] = logical_date
        before = {r.run_id for r in api.store().runs.list("api_etl")}
        response = api.post("op", "/dags/api_etl/dagRuns", json=body)
        assert response.status_code < 500, response.text
        added = {r.run_id for r in api.store().runs.list("api_etl")} - before
        if response.status_code == 200:
            assert added == {response.json()["dag_run_id"]}
            (new,) = added
            assert is_identifier(new, Identifier.RUN)
            assert api.store().task_instances.for_run("api_etl", new)
            assert api.get("viewer", "/dags/api_etl/dagRuns").status_code == 200
        else:
            assert added == set()

    check()


def test_pools_and_variables_are_stored_whole_or_not_at_all(api: ApiEnv) -> None:
    @BUDGET
    @given(name=ids, slots=st.integers(-3, 10**20), value=st.text(max_size=30))
    def check(name: str, slots: int, value: str) -> None:
        pools_before = {p["name"] for p in api.get("op", "/pools").json()["pools"]}
        pool = api.post("op", "/pools", json={"name": name, "slots": slots})
        assert pool.status_code < 500, pool.text
        pools_after = {p["name"] for p in api.get("op", "/pools").json()["pools"]}
        if pool.status_code == 200:
            assert is_identifier(name, Identifier.POOL) and pools_after == pools_before | {name}
            api.delete("op", f"/pools/{name}")
        else:
            assert pools_after == pools_before
        variable = api.post("op", "/variables", json={"key": name, "value": value})
        assert variable.status_code < 500, variable.text
        valid = is_identifier(name, Identifier.VARIABLE)
        stored = api.store().variables.get(name) if valid else None
        assert (stored is not None) == (variable.status_code == 200)
        if stored is not None:
            api.delete("op", f"/variables/{name}")

    check()
