"""Admin pages: pools, variables, connections, users and the audit log."""

from __future__ import annotations

from millstream.secrets import service
from millstream.secrets.settings import using_settings
from tests.integration.ui.ui_helpers import UiEnv, form_fields


def test_pools_are_listed_added_changed_and_deleted(ui: UiEnv) -> None:
    viewer = ui.get("viewer", "/admin/pools").text
    assert 'data-pool="default_pool"' in viewer and 'id="pool-form"' not in viewer
    assert ui.post("op", "/admin/pools", {"name": "etl", "slots": "4", "description": "ETL"},
                   csrf_from="/admin/pools").status_code == 303
    bad = ui.post("op", "/admin/pools", {"name": "etl", "slots": "many"},
                  csrf_from="/admin/pools")
    assert bad.status_code == 400 and "Slots must be a whole number" in bad.text
    negative = ui.post("op", "/admin/pools", {"name": "etl", "slots": "-1"},
                       csrf_from="/admin/pools")
    assert negative.status_code == 400
    assert "slots must be a whole number from 0 to 1000000" in negative.text
    store = ui.store()
    assert ("etl", 4, "ETL") in store.pools.list()
    edit = ui.get("op", "/admin/pools", edit="etl").text
    assert form_fields(edit, "pool-form")["name"] == "etl"
    refused = ui.post("op", "/admin/pools/delete", {"name": "default_pool"},
                      csrf_from="/admin/pools")
    assert refused.status_code == 400 and "cannot be deleted" in refused.text
    assert ui.post("op", "/admin/pools/delete", {"name": "etl"},
                   csrf_from="/admin/pools").status_code == 303
    assert [name for name, _, _ in store.pools.list()] == ["default_pool"]
    assert [r.event for r in store.audit.list(limit=2)] == ["pool_delete", "pool_set"]
    assert ui.post("viewer", "/admin/pools", {"name": "x", "slots": "1"},
                   csrf_from="/admin/pools").status_code == 403


def test_variables_hide_secret_values(ui: UiEnv) -> None:
    for key, value in [("region", "eu-west-1"), ("api_token", "s3cr3t-value-123")]:
        response = ui.post("op", "/admin/variables",
                           {"key": key, "value": value, "description": f"the {key}"},
                           csrf_from="/admin/variables")
        assert response.status_code == 303
    page = ui.get("op", "/admin/variables").text
    assert "eu-west-1" in page and "s3cr3t-value-123" not in page and "***" in page
    edit = ui.get("op", "/admin/variables", edit="api_token").text
    assert "s3cr3t-value-123" not in edit and "its current value is not shown" in edit
    assert "eu-west-1" in ui.get("op", "/admin/variables", edit="region").text
    with using_settings(ui.settings):
        assert service.get_variable(ui.store(), "api_token") == "s3cr3t-value-123"
    bad = ui.post("op", "/admin/variables", {"key": "bad key!", "value": "x"},
                  csrf_from="/admin/variables")
    assert bad.status_code == 400 and "bad key!" in bad.text
    assert ui.post("op", "/admin/variables/delete", {"key": "region"},
                   csrf_from="/admin/variables").status_code == 303
    assert 'data-key="region"' not in ui.get("op", "/admin/variables").text
    assert ui.get("viewer", "/admin/variables").status_code == 403


def test_connections_never_show_their_password(ui: UiEnv) -> None:
    created = ui.post("op", "/admin/connections", {
        "conn_id": "warehouse", "conn_type": "postgres", "host": "db.example", "port": "5432",
        "schema": "sales", "login": "etl", "password": "pa55-word-xyz",
        "extra": '{"sslmode": "require", "api_key": "extra-secret-777"}',
    }, csrf_from="/admin/connections")
    assert created.status_code == 303
    page = ui.get("op", "/admin/connections").text
    assert 'data-conn-id="warehouse"' in page and "db.example" in page
    assert "pa55-word-xyz" not in page and "extra-secret-777" not in page
    edit = ui.get("op", "/admin/connections", edit="warehouse").text
    fields = form_fields(edit, "connection-form")
    assert fields["conn_id"] == "warehouse" and fields["schema"] == "sales"
    assert "pa55-word-xyz" not in edit and "extra-secret-777" not in edit
    changed = ui.post("op", "/admin/connections", {**fields, "host": "db2.example",
                                                   "password": "", "extra": ""})
    assert changed.status_code == 303
    with using_settings(ui.settings):
        conn = service.get_connection_record(ui.store(), "warehouse")
    assert conn is not None and conn.host == "db2.example"
    assert conn.password == "pa55-word-xyz" and "extra-secret-777" in (conn.extra or "")
    again = ui.post("op", "/admin/connections", {"conn_id": "warehouse", "conn_type": "http"},
                    csrf_from="/admin/connections")
    assert again.status_code == 400 and "already exists" in again.text
    port = ui.post("op", "/admin/connections", {"conn_id": "x", "conn_type": "http",
                                                "port": "eighty"},
                   csrf_from="/admin/connections")
    assert port.status_code == 400 and "Port must be a whole number" in port.text
    assert ui.post("op", "/admin/connections/delete", {"conn_id": "warehouse"},
                   csrf_from="/admin/connections").status_code == 303
    assert 'data-conn-id="warehouse"' not in ui.get("op", "/admin/connections").text


def test_admins_manage_users(ui: UiEnv) -> None:
    created = ui.post("admin", "/admin/users", {"username": "carol", "password": "carol-pass-1",
                                                "role": "op", "email": "c@example.com"},
                      csrf_from="/admin/users")
    assert created.status_code == 303
    store = ui.store()
    carol = store.users.get("carol")
    assert carol is not None and carol.role == "op"
    short = ui.post("admin", "/admin/users", {"username": "dave", "password": "short",
                                              "role": "viewer"}, csrf_from="/admin/users")
    assert short.status_code == 400 and "at least 8 characters" in short.text
    assert ui.post("admin", "/admin/users/update", {"username": "carol", "role": "viewer"},
                   csrf_from="/admin/users").status_code == 303
    carol = store.users.get("carol")
    assert carol is not None and carol.role == "viewer"
    myself = ui.post("admin", "/admin/users/delete", {"username": "admin"},
                     csrf_from="/admin/users")
    assert myself.status_code == 400 and "cannot delete your own account" in myself.text
    demote = ui.post("admin", "/admin/users/update", {"username": "admin", "role": "viewer"},
                     csrf_from="/admin/users")
    assert demote.status_code == 400 and "cannot change your own role" in demote.text
    assert ui.post("admin", "/admin/users/delete", {"username": "carol"},
                   csrf_from="/admin/users").status_code == 303
    assert store.users.get("carol") is None
    assert ui.post("op", "/admin/users", {"username": "x", "password": "xxxxxxxxxx"},
                   csrf_from="/dags").status_code == 403


def test_the_audit_log_lists_what_users_did(ui: UiEnv) -> None:
    ui.post("op", "/dags/ui_etl/pause", {"paused": "true", "next": "/dags"}, csrf_from="/dags")
    ui.post("op", "/dags/ui_failing/pause", {"paused": "true", "next": "/dags"},
            csrf_from="/dags")
    page = ui.get("op", "/admin/audit").text
    assert page.index("ui_failing") < page.index('href="/dags/ui_etl/grid">ui_etl')
    only = ui.get("op", "/admin/audit", dag_id="ui_etl").text
    assert "<code>pause</code>" in only and "ui_failing" not in only
    assert ui.get("viewer", "/admin/audit").status_code == 403
