"""The limits on stored values: JSON depth and size, numeric ranges, the date range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from millstream.exceptions import InvalidInputError
from millstream.model.limits import (
    MAX_INT,
    Limits,
    check_json,
    check_moment,
    check_range,
    json_depth,
    limits_in_force,
    use_limits,
)


def nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = {"a": [value]} if levels % 2 else [value]
    return value


@pytest.mark.parametrize("value, depth", [
    (1, 0), ("text", 0), ({}, 1), ([1, [2, [3]]], 3), ({"a": {"b": []}}, 3),
    ({"a": 1, "b": [{"c": 2}]}, 3),
])
def test_json_depth_counts_nested_lists_and_dicts(value: object, depth: int) -> None:
    assert json_depth(value, 100) == depth


def test_json_depth_of_anything_deep_stops_early_without_recursion() -> None:
    assert json_depth(nested(100_000), 64) == 65


def test_check_json_passes_a_value_within_limits_and_returns_its_text() -> None:
    assert check_json({"n": [1, 2]}, "conf", max_depth=2, max_bytes=100) == '{"n": [1, 2]}'


@pytest.mark.parametrize("value, message", [
    (nested(65), "conf nests deeper than 64 levels"),
    ({"blob": "x" * 2000}, "conf is 2012 bytes as JSON; at most 1000 are allowed"),
    ({"when": datetime(2026, 1, 1)}, "conf must be JSON-serializable"),
])
def test_check_json_refuses_naming_the_field(value: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as refused:
        check_json(value, "conf", max_depth=64, max_bytes=1000)
    assert refused.value.field == "conf"


@pytest.mark.parametrize("value", [-2, MAX_INT + 1, 10**23, True, 1.5])
def test_check_range_refuses_what_is_outside_or_not_a_whole_number(value: object) -> None:
    with pytest.raises(InvalidInputError, match=r"map index must be a whole number from -1"):
        check_range(value, "map index", -1)  # type: ignore[arg-type]


def test_check_range_passes_the_bounds() -> None:
    assert [check_range(v, "n", -1) for v in (-1, 0, MAX_INT)] == [-1, 0, MAX_INT]


@pytest.mark.parametrize("moment", [
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))),
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
])
def test_moments_whose_intervals_cannot_be_computed_are_refused(moment: datetime) -> None:
    with pytest.raises(InvalidInputError, match="is out of range: use a date from"):
        check_moment(moment, "logical date")


def test_a_moment_in_range_comes_back_in_utc() -> None:
    local = datetime(2026, 1, 1, 6, tzinfo=timezone(timedelta(hours=1)))
    assert check_moment(local, "d") == datetime(2026, 1, 1, 5, tzinfo=UTC)


def test_the_limits_in_force_are_the_defaults_until_settings_replace_them() -> None:
    before = limits_in_force()
    try:
        use_limits(Limits(max_json_depth=3))
        assert limits_in_force().max_json_depth == 3
    finally:
        use_limits(before)
    assert limits_in_force() == before
