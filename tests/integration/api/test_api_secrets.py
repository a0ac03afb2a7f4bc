"""``/variables`` and ``/connections``: encrypted at rest, audited, and a connection's
password never returned."""

from __future__ import annotations

import json

from millstream.secrets.service import get_connection_record
from millstream.store.records import TaskInstanceKey
from tests.integration.api.api_helpers import ApiEnv


def test_variables_create_read_change_delete(api: ApiEnv) -> None:
    created = api.post("op", "/variables", json={"key": "region", "value": "north",
                                                 "description": "where to sync"})
    assert created.status_code == 200
    assert created.json() == {"key": "region", "value": "north",
                              "description": "where to sync", "is_encrypted": True}
    record = api.store().variables.get("region")
    assert record is not None and record.is_encrypted and "north" not in record.value
    assert api.get("op", "/variables/region").json()["value"] == "north"
    changed = api.patch("admin", "/variables/region", json={"value": "south"})
    assert changed.status_code == 200
    assert changed.json()["value"] == "south"
    assert changed.json()["description"] == "where to sync"  # kept
    assert api.delete("op", "/variables/region").status_code == 204
    assert api.get("op", "/variables/region").status_code == 404
    assert api.delete("op", "/variables/region").status_code == 404
    events = [(a.event, a.who) for a in api.store().audit.list(limit=3)]
    assert events == [("variable_delete", "op"), ("variable_set", "admin"),
                      ("variable_set", "op")]


def test_variable_lists_mask_secret_keys_and_page(api: ApiEnv) -> None:
    for key, value in [("a_password", "hunter2"), ("b_plain", "1"), ("c_plain", "2")]:
        api.post("op", "/variables", json={"key": key, "value": value})
    body = api.get("op", "/variables?limit=2").json()
    assert body["total_entries"] == 3
    assert [(v["key"], v["value"]) for v in body["variables"]] == [
        ("a_password", "***"), ("b_plain", "1")]
    assert [v["key"] for v in api.get("op", "/variables?offset=2").json()["variables"]] == [
        "c_plain"]


def test_variable_input_is_checked(api: ApiEnv) -> None:
    api.post("op", "/variables", json={"key": "region", "value": "north"})
    taken = api.post("op", "/variables", json={"key": "region", "value": "x"})
    assert taken.status_code == 409
    bad_key = api.post("op", "/variables", json={"key": "no spaces", "value": "x"})
    assert bad_key.status_code == 422 and bad_key.json()["detail"].startswith("body.key: ")
    no_value = api.post("op", "/variables", json={"key": "other"})
    assert no_value.status_code == 422 and no_value.json()["detail"].startswith("body.value: ")
    assert api.patch("op", "/variables/nope", json={"value": "x"}).status_code == 404


def test_variables_need_op(api: ApiEnv) -> None:
    assert api.get("viewer", "/variables").status_code == 403
    assert api.post("viewer", "/variables", json={"key": "k", "value": "v"}).status_code == 403
    assert api.get(None, "/variables").status_code == 401


CONNECTION = {"conn_id": "warehouse", "conn_type": "postgres", "host": "db.example.com",
              "schema": "sales", "login": "etl", "password": "s3cret", "port": 5432,
              "extra": {"sslmode": "require", "api_token": "abc123"}}


def test_connections_never_return_the_password(api: ApiEnv) -> None:
    created = api.post("op", "/connections", json=CONNECTION)
    assert created.status_code == 200
    body = created.json()
    assert "password" not in body and body["password_set"] is True
    assert (body["host"], body["schema"], body["port"], body["login"]) == (
        "db.example.com", "sales", 5432, "etl")
    assert '"api_token": "***"' in body["extra"] and "abc123" not in body["extra"]
    for response in (api.get("op", "/connections/warehouse"), api.get("op", "/connections")):
        assert "s3cret" not in response.text and "abc123" not in response.text
    listed = api.get("op", "/connections").json()
    assert listed["total_entries"] == 1
    assert listed["connections"][0]["password_set"] is True
    record = api.store().connections.get("warehouse")
    assert record is not None and record.is_encrypted and record.password != "s3cret"


def test_patching_a_connection_keeps_what_is_left_out(api: ApiEnv) -> None:
    api.post("op", "/connections", json=CONNECTION)
    changed = api.patch("op", "/connections/warehouse", json={"host": "db2.example.com"})
    assert changed.status_code == 200
    assert changed.json()["host"] == "db2.example.com"
    assert changed.json()["password_set"] is True
    conn = get_connection_record(api.store(), "warehouse")
    assert conn is not None and conn.password == "s3cret" and conn.port == 5432
    cleared = api.patch("op", "/connections/warehouse", json={"password": None})
    assert cleared.json()["password_set"] is False
    assert api.patch("op", "/connections/nope", json={"host": "x"}).status_code == 404


def test_connection_input_is_checked_and_deletes_are_audited(api: ApiEnv) -> None:
    api.post("op", "/connections", json=CONNECTION)
    taken = api.post("op", "/connections", json=CONNECTION)
    assert taken.status_code == 409
    bad_port = api.post("op", "/connections", json={**CONNECTION, "conn_id": "x",
                                                   "port": 70000})
    assert bad_port.status_code == 422 and bad_port.json()["detail"].startswith("body.port: ")
    bad_extra = api.post("op", "/connections", json={**CONNECTION, "conn_id": "y",
                                                    "extra": "not json"})
    assert bad_extra.status_code == 422 and "extra" in bad_extra.json()["detail"]
    no_type = api.patch("op", "/connections/warehouse", json={"conn_type": None})
    assert no_type.status_code == 422
    assert api.get("viewer", "/connections").status_code == 403
    assert api.delete("op", "/connections/warehouse").status_code == 204
    assert api.get("op", "/connections/warehouse").status_code == 404
    assert api.store().audit.list(limit=1)[0].event == "connection_delete"


def test_a_secret_variable_reads_back_as_stars_for_every_role(api: ApiEnv) -> None:
    api.post("op", "/variables", json={"key": "stripe_api_key", "value": "sk-live-9876"})
    for role in ("op", "admin"):
        body = api.get(role, "/variables/stripe_api_key").json()
        assert body["value"] == "***", role
    changed = api.patch("admin", "/variables/stripe_api_key", json={"value": "sk-live-0000"})
    assert changed.json()["value"] == "***"
    assert "sk-live" not in api.get("admin", "/variables").text


def test_secrets_a_task_returned_show_as_stars_in_xcoms_for_every_role(api: ApiEnv) -> None:
    api.post("op", "/connections", json={
        "conn_id": "warehouse", "conn_type": "postgres", "password": "wh-pass-4711",
        "extra": '{"api_token": "tok-extra-99", "region": "eu"}'})
    api.post("op", "/variables", json={"key": "db_password", "value": "var-pass-1234"})
    api.add_run("r1")
    key = TaskInstanceKey("api_etl", "r1", "extract")
    api.store().xcoms.set_many(key, [
        ("return_value", json.dumps({"dsn": "postgres://etl:wh-pass-4711@db/sales",
                                     "token": "tok-extra-99", "rows": 3})),
        ("leak", json.dumps(["var-pass-1234", "eu"])),
    ])
    path = "/dags/api_etl/dagRuns/r1/taskInstances/extract/xcomEntries"
    for role in ("viewer", "op", "admin"):
        listed = {e["key"]: e["value"] for e in api.get(role, path).json()["xcom_entries"]}
        assert listed == {"return_value": {"dsn": "postgres://etl:***@db/sales",
                                           "token": "***", "rows": 3},
                          "leak": ["***", "eu"]}, role
        assert api.get(role, f"{path}/leak").json()["value"] == ["***", "eu"]


def test_a_value_the_task_marked_secret_shows_as_stars_for_every_role(api: ApiEnv) -> None:
    from millstream.runtime.xcom import decode_xcom, encode_xcom
    from millstream.secrets.masking import clear_secrets, mask_secret

    api.add_run("r1")
    try:
        mask_secret("tok-task-only-5150")  # as the task's own process would
        sealed = encode_xcom({"header": "Bearer tok-task-only-5150"}, "extract", "return_value")
    finally:
        clear_secrets()
    assert "tok-task-only-5150" not in sealed
    assert decode_xcom(sealed) == {"header": "Bearer tok-task-only-5150"}
    api.store().xcoms.set_many(TaskInstanceKey("api_etl", "r1", "extract"),
                               [("return_value", sealed)])
    path = "/dags/api_etl/dagRuns/r1/taskInstances/extract/xcomEntries"
    for role in ("viewer", "op", "admin"):
        listed = api.get(role, path).json()["xcom_entries"]
        assert listed == [{"key": "return_value", "value": {"header": "Bearer ***"}}], role
        one = api.get(role, f"{path}/return_value")
        assert one.json()["value"] == {"header": "Bearer ***"}, role
        assert "tok-task-only" not in one.text
