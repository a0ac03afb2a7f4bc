"""Every page renders for every role over real runs; visitors are sent to the login page;
viewers get a 403 page for what only op or admin may do."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.ui.conftest import Seeded
from tests.integration.ui.ui_helpers import ROLES, UiEnv, run_query


def read_pages(seeded: Seeded) -> list[str]:
    run = seeded.etl_runs[-1]
    failed = seeded.failed_run
    return [
        "/dags",
        "/dags?search=etl&tags=ui&status=active&page=1&page_size=25",
        "/dags/ui_etl/grid",
        "/dags/ui_etl/grid?runs=10",
        "/dags/ui_etl/graph",
        f"/dags/ui_etl/graph?{run_query(run, expand='transform')}",
        f"/dags/ui_etl/gantt?{run_query(run)}",
        "/dags/ui_etl/code",
        "/dags/ui_etl/details",
        f"/dags/ui_etl/run?{run_query(run)}",
        f"/dags/ui_etl/task?{run_query(run, task_id='extract')}",
        f"/dags/ui_etl/task?{run_query(run, task_id='square')}",
        f"/dags/ui_etl/task?{run_query(run, task_id='square', map_index=1)}",
        f"/dags/ui_failing/task?{run_query(failed, task_id='explode')}",
        "/dags/ui_paused/grid",
        "/dags/ui_paused/graph",
        "/dags/ui_paused/gantt",
        "/admin/pools",
    ]


OP_PAGES = ["/dags/ui_etl/trigger", "/admin/audit", "/admin/variables", "/admin/connections"]


def op_pages(seeded: Seeded) -> list[str]:
    run = seeded.etl_runs[-1]
    return [*OP_PAGES,
            f"/dags/ui_etl/clear?{run_query(run)}",
            f"/dags/ui_etl/clear?{run_query(run, task_id='extract')}",
            f"/dags/ui_etl/mark?{run_query(run, state='failed')}",
            f"/dags/ui_etl/mark?{run_query(run, task_id='load', state='failed')}"]


@pytest.mark.parametrize("role", ROLES)
def test_every_page_renders_for_every_role(ui: UiEnv, seeded: Seeded, role: str) -> None:
    for path in read_pages(seeded):
        page = ui.get(role, path)
        assert page.status_code == 200, (path, page.text[:2000])
        assert page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert f'<span class="username">{role}</span>' in page.text
    allowed = role != "viewer"
    for path in op_pages(seeded):
        page = ui.get(role, path)
        assert page.status_code == (200 if allowed else 403), (role, path)
        if not allowed:
            assert "needs the op role" in page.text
    users = ui.get(role, "/admin/users")
    assert users.status_code == (200 if role == "admin" else 403)


def test_visitors_are_sent_to_the_login_page_and_back(ui: UiEnv, seeded: Seeded) -> None:
    target = f"/dags/ui_etl/run?{run_query(seeded.etl_runs[0])}"
    for path in [*read_pages(seeded), *op_pages(seeded), "/admin/users", "/",
                 "/ui/api/dags/ui_etl/grid"]:
        response = ui.get(None, path)
        assert response.status_code == 303, path
        location = urlsplit(response.headers["location"])
        assert location.path == "/login"
        assert parse_qs(location.query)["next"] == [path]
    page = ui.get(None, "/login", next=target)
    fields = re.search(r'name="next" value="([^"]*)"', page.text)
    assert fields is not None
    assert fields.group(1).replace("&amp;", "&") == target


def test_the_navigation_shows_what_the_role_may_open(ui: UiEnv) -> None:
    links = {role: re.findall(r'<nav class="mainnav".*?</nav>', ui.get(role, "/dags").text,
                              re.S)[0] for role in ROLES}
    assert "/admin/audit" not in links["viewer"] and "/admin/variables" not in links["viewer"]
    assert "/admin/variables" in links["op"] and "/admin/users" not in links["op"]
    assert "/admin/users" in links["admin"]
    assert all('href="/api/v1/docs"' in nav for nav in links.values())  # the API explorer


def test_unknown_dags_runs_and_tasks_are_404_pages(ui: UiEnv, seeded: Seeded) -> None:
    run = seeded.etl_runs[0]
    for path, says in [
        ("/dags/nope/grid", "no DAG 'nope'"),
        (f"/dags/ui_etl/run?{run_query('no-such-run')}", "has no run 'no-such-run'"),
        (f"/dags/ui_etl/task?{run_query(run, task_id='ghost')}", "has no task 'ghost'"),
        ("/no/such/page", "There is no page at /no/such/page"),
    ]:
        page = ui.get("viewer", path)
        assert page.status_code == 404, path
        assert says in page.text.replace("&#39;", "'"), page.text
    bad = ui.get("viewer", "/dags/ui_etl/grid?before=yesterday")
    assert bad.status_code == 400 and "bad date-time" in bad.text


def test_static_files_and_state_colours_are_served(ui: UiEnv) -> None:
    css = ui.get(None, "/ui/states.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ".st-success { background-color: #008000" in css.text
    assert ".st-failed { background-color: #ff0000" in css.text
    for path in ("/static/ui/millstream.css", "/static/ui/millstream.js",
                 "/static/ui/favicon.svg"):
        assert ui.get(None, path).status_code == 200, path
