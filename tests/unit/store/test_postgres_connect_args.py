"""The libpq parameters every PostgreSQL engine gets: timeouts and keepalives, the URL's own
values kept."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from millstream.store.sql.engine import PG_KEEPALIVES, postgres_connect_args


def test_defaults_are_added_with_the_server_side_timeouts() -> None:
    args = postgres_connect_args(make_url("postgresql+psycopg://u@db/x"), {}, 10, 30)
    assert args["connect_timeout"] == 10
    assert {name: args[name] for name in PG_KEEPALIVES} == PG_KEEPALIVES
    assert args["options"] == (
        "-c statement_timeout=30000 -c idle_in_transaction_session_timeout=30000"
        " -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
    )


def test_the_url_options_are_kept_and_its_own_values_win() -> None:
    url = make_url(
        "postgresql+psycopg://u@db/x?options=-csearch_path%3Dmine%20-c%20statement_timeout%3D5s"
        "&connect_timeout=3&keepalives_idle=60"
    )
    args = postgres_connect_args(url, {}, 10, 30)
    assert "connect_timeout" not in args and "keepalives_idle" not in args  # the URL's stand
    assert args["keepalives"] == 1
    assert args["options"] == (
        "-csearch_path=mine -c statement_timeout=5s -c idle_in_transaction_session_timeout=30000"
        " -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
    )


def test_no_statement_timeout_leaves_the_options_alone() -> None:
    given = {"options": "-csearch_path=s", "connect_timeout": 4}
    args = postgres_connect_args(make_url("postgresql+psycopg://u@db/x"), given, 10, 0)
    assert args["options"] == "-csearch_path=s" and args["connect_timeout"] == 4
    assert given == {"options": "-csearch_path=s", "connect_timeout": 4}  # not changed
