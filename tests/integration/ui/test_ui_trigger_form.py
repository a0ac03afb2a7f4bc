"""The trigger form made from the DAG's params, and its JSON view."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from tests.integration.ui.ui_helpers import UiEnv


def test_a_dag_with_params_opens_on_the_form_view(ui: UiEnv) -> None:
    page = ui.get("op", "/dags/ui_etl/trigger").text
    assert 'id="view-form" aria-current="page"' in page
    field = re.search(r'<div class="param-field" data-param="n" data-widget="integer">(.*?)'
                      r'</div>\n  </div>', page, re.S)
    assert field is not None, page
    assert re.search(r'<input type="number" id="param-1" name="param.n" value="3" step="1"\s+'
                     r'min="0"', field.group(1))
    assert "integer · ≥ 0" in field.group(1) and "How many rows" in field.group(1)
    assert 'name="conf"' not in page  # the JSON view has it
    json_view = ui.get("op", "/dags/ui_etl/trigger?view=json").text
    assert 'id="view-json" aria-current="page"' in json_view and 'name="conf"' in json_view


def test_the_form_view_triggers_a_run_with_the_typed_conf(ui: UiEnv) -> None:
    response = ui.post("op", "/dags/ui_etl/trigger",
                       {"view": "form", "param.n": "11", "logical_date": "2026-03-01",
                        "run_id": "from_form"}, csrf_from="/dags/ui_etl/trigger")
    assert response.status_code == 303, response.text
    assert parse_qs(urlsplit(response.headers["location"]).query)["run_id"] == ["from_form"]
    run = ui.store().runs.get("ui_etl", "from_form")
    assert run is not None and run.conf == {"n": 11}


def test_a_value_that_breaks_a_constraint_shows_the_form_again(ui: UiEnv) -> None:
    for value, message in (("-1", "param &#39;n&#39;: -1 is less than the minimum of 0"),
                           ("many", "param &#39;n&#39; must be a whole number")):
        response = ui.post("op", "/dags/ui_etl/trigger",
                           {"view": "form", "param.n": value, "run_id": "bad_form"},
                           csrf_from="/dags/ui_etl/trigger")
        assert response.status_code == 400
        assert message in response.text, response.text
        assert f'name="param.n" value="{value}"' in response.text  # kept as typed
        assert 'id="view-form" aria-current="page"' in response.text
    assert ui.store().runs.get("ui_etl", "bad_form") is None


def test_an_empty_field_keeps_the_param_s_default(ui: UiEnv) -> None:
    response = ui.post("op", "/dags/ui_etl/trigger",
                       {"view": "form", "param.n": "", "run_id": "defaults"},
                       csrf_from="/dags/ui_etl/trigger")
    assert response.status_code == 303
    run = ui.store().runs.get("ui_etl", "defaults")
    assert run is not None and run.conf == {}
