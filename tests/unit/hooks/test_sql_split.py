"""split_sql_string: statements end at semicolons outside strings, identifiers and comments."""

from __future__ import annotations

import pytest

from millstream.hooks.sql_split import split_sql_string


@pytest.mark.parametrize(
    ("script", "statements"),
    [
        ("SELECT 1", ["SELECT 1"]),
        ("SELECT 1;", ["SELECT 1"]),
        (" SELECT 1 ;\n\n SELECT 2 ; ", ["SELECT 1", "SELECT 2"]),
        ("SELECT 'a;b'; SELECT 2", ["SELECT 'a;b'", "SELECT 2"]),
        ("SELECT 'it''s; fine'; SELECT 2", ["SELECT 'it''s; fine'", "SELECT 2"]),
        ('SELECT "odd;name" FROM t; SELECT 2', ['SELECT "odd;name" FROM t', "SELECT 2"]),
        ("SELECT 1; -- done; really\nSELECT 2", ["SELECT 1", "-- done; really\nSELECT 2"]),
        ("SELECT 1 /* a; b */; SELECT 2", ["SELECT 1 /* a; b */", "SELECT 2"]),
        ("SELECT 1; -- only a comment;", ["SELECT 1"]),
        ("; ;;", []),
        ("", []),
        (
            "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;"
            " SELECT f()",
            ["CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql",
             "SELECT f()"],
        ),
        ("SELECT $tag$ ; $$ ; $tag$; SELECT 2", ["SELECT $tag$ ; $$ ; $tag$", "SELECT 2"]),
        ("SELECT a$b; SELECT $1", ["SELECT a$b", "SELECT $1"]),
    ],
)
def test_split(script: str, statements: list[str]) -> None:
    assert split_sql_string(script) == statements


def test_an_unterminated_string_keeps_the_rest_in_one_statement() -> None:
    assert split_sql_string("SELECT 'open; SELECT 2") == ["SELECT 'open; SELECT 2"]
