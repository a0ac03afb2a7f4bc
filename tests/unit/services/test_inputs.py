"""The one parser of each raw input: conf, dates, choices and patterns."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from millstream.exceptions import InvalidInputError
from millstream.model.states import DagRunState
from millstream.services.inputs import (
    compile_pattern,
    parse_choice,
    parse_conf,
    parse_date,
    require_date,
)


@pytest.mark.parametrize("given, expected", [
    (None, {}), ("", {}), ("  ", {}), ('{"n": 3}', {"n": 3}), ({"n": 3}, {"n": 3}),
])
def test_conf_from_text_or_a_mapping(given: object, expected: dict[str, object]) -> None:
    assert parse_conf(given, "--conf") == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("given, message", [
    ("{not json", "--conf is not valid JSON: Expecting property name"),
    ("[1, 2]", '--conf must be a JSON object like {"key": 1}, not a list'),
    ({"when": datetime(2026, 1, 1)}, "--conf must be JSON-serializable"),
    (42, "--conf must be a JSON object or a dict, not a int"),
])
def test_bad_conf_names_the_field(given: object, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_conf(given, "--conf")  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("given, expected", [
    ("2026-01-02", datetime(2026, 1, 2, tzinfo=UTC)),
    ("2026-01-02T06:00:00+02:00", datetime(2026, 1, 2, 4, tzinfo=UTC)),
    (datetime(2026, 1, 2, 6), datetime(2026, 1, 2, 6, tzinfo=UTC)),
    (date(2026, 1, 2), datetime(2026, 1, 2, tzinfo=UTC)),
    (None, None), ("", None),
])
def test_dates_are_aware_utc_and_naive_means_utc(given: object,
                                                 expected: datetime | None) -> None:
    assert parse_date(given, "logical date") == expected  # type: ignore[arg-type]


def test_a_bad_or_missing_date_names_the_field() -> None:
    with pytest.raises(InvalidInputError,
                       match="bad --start 'soon': use a datetime or an ISO date"):
        parse_date("soon", "--start")
    with pytest.raises(InvalidInputError, match="--end is required"):
        require_date("", "--end")


def test_choices_and_patterns() -> None:
    assert parse_choice("FAILED", DagRunState, "run state") is DagRunState.FAILED
    with pytest.raises(InvalidInputError, match="unknown run state 'paused'; expected one of"):
        parse_choice("paused", DagRunState, "run state")
    assert compile_pattern("^a").search("abc")
    with pytest.raises(InvalidInputError, match=r"bad task regex '\('"):
        compile_pattern("(")
