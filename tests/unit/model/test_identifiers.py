"""The one rule per kind of identifier: what passes, and what each refusal says."""

from __future__ import annotations

import re

import pytest

from millstream.exceptions import InvalidInputError
from millstream.model.identifiers import Identifier, check_identifier, identifier_rule


@pytest.mark.parametrize("kind, value", [
    (Identifier.DAG, "sales_etl-v2.daily"),
    (Identifier.TASK, "group.sub_task-1"),
    (Identifier.RUN, "manual__2026-01-01T00:00:00.123456+00:00"),
    (Identifier.RUN, "backfill~x"),
    (Identifier.POOL, "warehouse slots"),
    (Identifier.CONNECTION, "postgres_default"),
    (Identifier.VARIABLE, "a" * 250),
])
def test_identifiers_that_follow_their_rule_pass_unchanged(kind: Identifier, value: str) -> None:
    assert check_identifier(value, kind) == value
    assert re.fullmatch(identifier_rule(kind).pattern, value)


@pytest.mark.parametrize("kind, value, problem", [
    (Identifier.RUN, "../x", "holds '/'"),
    (Identifier.RUN, "..", "is only dots"),
    (Identifier.RUN, "with space", "holds ' '"),
    (Identifier.RUN, "new\nline", "holds '\\n'"),
    (Identifier.RUN, "", "is empty"),
    (Identifier.RUN, "r" * 251, "is 251 characters long; at most 250 are allowed"),
    (Identifier.DAG, "ünïcode", "holds 'ï', 'ü'"),
    (Identifier.DAG, "semi;colon", "holds ';'"),
    (Identifier.TASK, "a/b", "holds '/'"),
    (Identifier.POOL, " padded", "starts or ends with a space"),
    (Identifier.POOL, "tab\there", "holds '\\t'"),
    (Identifier.CONNECTION, "x:y", "holds ':'"),
    (Identifier.VARIABLE, 42, "is a int, not text"),
])
def test_a_bad_identifier_is_refused_saying_what_is_wrong_and_what_is_allowed(
        kind: Identifier, value: object, problem: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        check_identifier(value, kind)
    message = str(refused.value)
    assert message.startswith(f"{kind} ")
    assert problem in message
    assert "use letters, digits" in message


def test_a_very_long_identifier_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidInputError) as refused:
        check_identifier("x" * 10_000, Identifier.DAG)
    assert len(str(refused.value)) < 300
