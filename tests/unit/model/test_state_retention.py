"""How long a task state store key is kept (pure logic)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import pytest

from millstream.model.state_retention import (
    DEFAULT_RETENTION,
    NEVER_EXPIRE,
    check_key,
    expires_at,
    is_live,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_retention_gives_the_expiry() -> None:
    assert expires_at(NOW) == NOW + DEFAULT_RETENTION == NOW + timedelta(days=30)
    assert expires_at(NOW, NEVER_EXPIRE) is None
    assert expires_at(NOW, timedelta(hours=2)) == NOW + timedelta(hours=2)
    assert expires_at(NOW, 90) == NOW + timedelta(seconds=90)
    assert expires_at(NOW, 0.5) == NOW + timedelta(seconds=0.5)


@pytest.mark.parametrize("bad", [0, -5, timedelta(0), timedelta(seconds=-1), float("inf")])
def test_a_retention_that_is_not_positive_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        expires_at(NOW, bad)


@pytest.mark.parametrize("bad", ["30d", True, [1]])
def test_a_retention_of_the_wrong_kind_is_refused(bad: object) -> None:
    with pytest.raises(TypeError, match="timedelta, a number of seconds or NEVER_EXPIRE"):
        expires_at(NOW, bad)


def test_never_expire_is_one_value_even_through_pickle() -> None:
    assert pickle.loads(pickle.dumps(NEVER_EXPIRE)) is NEVER_EXPIRE
    assert repr(NEVER_EXPIRE) == "NEVER_EXPIRE"


def test_keys_are_non_empty_strings_of_bounded_length() -> None:
    assert check_key("job_id") == "job_id"
    with pytest.raises(TypeError, match="must be a str"):
        check_key(3)
    with pytest.raises(ValueError, match="1 to 250 characters"):
        check_key("")
    with pytest.raises(ValueError, match="1 to 250 characters"):
        check_key("k" * 251)


def test_a_key_is_live_until_its_expiry() -> None:
    assert is_live(None, NOW)
    assert is_live(NOW + timedelta(seconds=1), NOW)
    assert not is_live(NOW, NOW)

