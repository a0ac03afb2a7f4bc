"""SQLAlchemy's ``%(name)s`` placeholders for psycopg become ``$n`` once per statement."""

from __future__ import annotations

from millstream.store.sql.pg_direct import numbered


def test_each_name_is_one_numbered_parameter_in_order_of_first_use() -> None:
    sql = ("UPDATE t SET state=%(state)s::VARCHAR WHERE t.id = %(k_id)s::INTEGER "
           "AND t.state <> %(state)s::VARCHAR")
    assert numbered(sql) == (
        "UPDATE t SET state=$1::VARCHAR WHERE t.id = $2::INTEGER AND t.state <> $1::VARCHAR",
        ("state", "k_id"))


def test_escaped_percent_signs_are_unescaped_and_never_taken_for_parameters() -> None:
    assert numbered("SELECT 'a%%(b)s' || %(c)s WHERE x LIKE '%%z'") == (
        "SELECT 'a%(b)s' || $1 WHERE x LIKE '%z'", ("c",))


def test_a_name_sqlalchemy_escaped_is_given_by_its_own_name() -> None:
    assert numbered("SELECT %(a_b_c)s", {"a.b[c]": "a_b_c"}) == ("SELECT $1", ("a.b[c]",))


def test_a_lone_percent_sign_leaves_the_statement_to_sqlalchemy() -> None:
    assert numbered("SELECT 5 % 2, %(x)s") is None
