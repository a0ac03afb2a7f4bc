"""The trigger form's fields from a DAG's Params, and the conf the submitted fields make."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from millstream import DAG, Param
from millstream.exceptions import InvalidInputError
from millstream.operators.empty import EmptyOperator
from millstream.parsing.serialize import DagStructure
from millstream.ui.param_form import conf_from_form, param_fields


def params() -> dict[str, dict[str, object]]:
    with DAG("p", start_date=datetime(2026, 1, 1, tzinfo=UTC), params={
        "rows": Param(5, type="integer", minimum=0, maximum=100, description="Rows to load"),
        "ratio": Param(0.5, type="number"),
        "region": Param("emea", type="string", enum=["emea", "amer", "apac"]),
        "dry_run": Param(False, type="boolean"),
        "label": Param("x", type="string", min_length=1, max_length=20, pattern="^[a-z]+$"),
        "tags": Param(["a"], type="array"),
        "target": Param(type="string"),
        "plain": 7,
    }) as dag:
        EmptyOperator(task_id="t")
    return DagStructure.from_dag(dag).data["params"]  # type: ignore[no-any-return]


def test_each_param_gets_a_widget_by_its_type_with_its_constraints() -> None:
    fields = {f.name: f for f in param_fields(params())}
    assert {name: f.widget for name, f in fields.items()} == {
        "rows": "integer", "ratio": "number", "region": "select", "dry_run": "checkbox",
        "label": "text", "tags": "json", "target": "text", "plain": "json"}
    rows = fields["rows"]
    assert (rows.value, rows.minimum, rows.maximum, rows.required) == ("5", 0, 100, False)
    assert rows.constraints == ("integer", "≥ 0", "≤ 100")
    assert rows.description == "Rows to load"
    assert fields["region"].options == (('"emea"', "emea"), ('"amer"', "amer"),
                                        ('"apac"', "apac"))
    assert fields["region"].value == '"emea"'
    assert "one of \"emea\", \"amer\", \"apac\"" in fields["region"].constraints
    assert fields["label"].constraints == ("string", "length 1 to 20", "matches ^[a-z]+$")
    assert fields["dry_run"].checked is False
    assert fields["tags"].value == '["a"]'
    assert (fields["target"].required, fields["target"].value) == (True, "")
    assert fields["plain"].value == "7"


def test_the_submitted_fields_make_a_typed_conf() -> None:
    form = {"param.rows": "12", "param.ratio": "0.25", "param.region": '"apac"',
            "param-present.dry_run": "1", "param.dry_run": "true", "param.label": "abc",
            "param.tags": '["x", "y"]', "param.target": "warehouse", "param.plain": ""}
    assert conf_from_form(params(), form) == {
        "rows": 12, "ratio": 0.25, "region": "apac", "dry_run": True, "label": "abc",
        "tags": ["x", "y"], "target": "warehouse"}


def test_an_unticked_box_is_false_and_empty_fields_keep_their_defaults() -> None:
    form = {"param-present.dry_run": "1", "param.rows": "", "param.label": ""}
    assert conf_from_form(params(), form) == {"dry_run": False}


@pytest.mark.parametrize(("field", "text", "message"), [
    ("param.rows", "twelve", "param 'rows' must be a whole number, got 'twelve'"),
    ("param.ratio", "nan", "param 'ratio' must be a finite number"),
    ("param.tags", "[1,", "param 'tags' is not valid JSON"),
])
def test_a_value_of_the_wrong_kind_names_its_param(field: str, text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        conf_from_form(params(), {field: text})


def test_a_form_sent_back_keeps_what_the_user_typed() -> None:
    fields = {f.name: f for f in param_fields(
        params(), submitted={"param.rows": "-3", "param.dry_run": "true"})}
    assert fields["rows"].value == "-3" and fields["dry_run"].checked is True


def test_date_formats_get_date_and_time_pickers_and_titles_show() -> None:
    with DAG("d", start_date=datetime(2026, 1, 1, tzinfo=UTC), params={
        "day": Param("2026-01-01", type="string", format="date", title="Business day"),
        "at": Param(type="string", format="date-time"),
        "size": Param("m", enum=["s", "m"], values_display={"s": "Small", "m": "Medium"}),
    }) as dag:
        EmptyOperator(task_id="t")
    specs = DagStructure.from_dag(dag).data["params"]
    fields = {f.name: f for f in param_fields(specs)}
    assert (fields["day"].widget, fields["day"].value, fields["day"].title) == (
        "date", "2026-01-01", "Business day")
    assert "format date" in fields["day"].constraints
    assert (fields["at"].widget, fields["at"].required) == ("datetime", True)
    assert fields["size"].options == (('"s"', "Small"), ('"m"', "Medium"))
    conf = conf_from_form(specs, {"param.day": "2026-02-03", "param.at": "2026-02-03T06:30"})
    assert conf == {"day": "2026-02-03", "at": "2026-02-03T06:30:00+00:00"}
    # the conf fits the params' schemas: a date-time with a zone, a date
    assert DagStructure.from_dag(dag).resolve_params(conf)["at"] == "2026-02-03T06:30:00+00:00"
