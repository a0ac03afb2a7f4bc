"""Connection: the URI form (Airflow's, percent-encoded), the JSON form, and validation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from millstream.exceptions import InvalidInputError
from millstream.secrets.connection import Connection


def fields(conn: Connection) -> tuple[object, ...]:
    return (conn.conn_id, conn.conn_type, conn.host, conn.login, conn.password, conn.schema,
            conn.port, conn.extra_dejson)


ROUND_TRIPS = [
    Connection("pg", "postgres", host="db.example.com", login="etl", password="s3cret",
               schema="warehouse", port=5432),
    Connection("odd", "postgres", host="db", login="us@er:name", password="p@ss:w/rd?#%&= ü",
               schema="my/schema name", port=6543),
    Connection("v6", "postgres", host="[::1]", login="u", password="", port=5432),
    Connection("proto", "http", host="https://Api.Example.com", port=443,
               extra=json.dumps({"timeout": "30", "verify": "no"})),
    Connection("nested", "http", host="example.com",
               extra=json.dumps({"retries": 3, "headers": {"X-Key": "a b"}, "on": True})),
    Connection("file", "sqlite", host="/tmp/folder with space/db.sqlite"),
    Connection("port_only", "postgres", port=5432),
    Connection("login_only", "ftp", host="h", login="anonymous"),
    Connection("pw_only", "redis", host="cache", password="only-a-password", port=6379),
    Connection("empty", "generic"),
]


@pytest.mark.parametrize("conn", ROUND_TRIPS, ids=[c.conn_id for c in ROUND_TRIPS])
def test_the_uri_gives_back_every_field(conn: Connection) -> None:
    again = Connection.from_uri(conn.conn_id, conn.get_uri())
    assert fields(again) == fields(conn)


_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    login=st.none() | _text,
    password=st.none() | st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
    host=st.none() | _text.filter(lambda h: "://" not in h),
    schema=st.none() | _text,
    port=st.none() | st.integers(1, 65535),
    extra=st.none() | st.dictionaries(_text, _text | st.integers(), max_size=3),
)
def test_any_characters_survive_the_uri(login: str | None, password: str | None,
                                        host: str | None, schema: str | None,
                                        port: int | None, extra: dict[str, object] | None,
                                        ) -> None:
    conn = Connection("prop", "my_type", host=host, login=login, password=password,
                      schema=schema, port=port, extra=json.dumps(extra) if extra else None)
    again = Connection.from_uri("prop", conn.get_uri())
    assert fields(again) == fields(conn)


def test_airflow_style_uris_parse_into_fields() -> None:
    conn = Connection.from_uri(
        "sales", "postgresql://etl%40corp:p%2Fw@db.internal:5432/sales?sslmode=require&a=")
    assert fields(conn) == ("sales", "postgres", "db.internal", "etl@corp", "p/w", "sales",
                            5432, {"sslmode": "require", "a": ""})
    typed = Connection.from_uri("g", "google-cloud-platform://?__extra__=%7B%22k%22%3A+%5B1%5D%7D")
    assert (typed.conn_type, typed.extra_dejson, typed.host) == ("google_cloud_platform",
                                                                {"k": [1]}, None)
    web = Connection.from_uri("w", "http://https://api.example.com:8443/v1")
    assert (web.conn_type, web.host, web.port, web.schema) == (
        "http", "https://api.example.com", 8443, "v1")
    assert web.get_uri() == "http://https://api.example.com:8443/v1"
    # the netloc's case is kept (urlsplit's hostname would lower it)
    assert Connection.from_uri("c", "s3://KEY:SECRET@MyBucket").host == "MyBucket"


def test_the_uri_encodes_what_would_break_it() -> None:
    conn = Connection("x", "postgres", host="h", login="a@b", password="p:w@d/?#")
    assert conn.get_uri() == "postgres://a%40b:p%3Aw%40d%2F%3F%23@h"
    assert conn.get_uri(masked=True) == "postgres://a%40b:***@h"
    extra = Connection("y", "http", host="h", extra='{"n": 1}')
    assert extra.get_uri() == "http://h/?__extra__=%7B%22n%22%3A+1%7D"
    secret = Connection("z", "http", host="h", extra='{"api_key": "k-0123456", "n": "1"}')
    assert secret.get_uri(masked=True) == "http://h/?api_key=***&n=1"
    nested = Connection("z", "http", host="h", extra='{"token": "k-0123456", "n": 1}')
    assert "k-0123456" not in nested.get_uri(masked=True)


@pytest.mark.parametrize(("uri", "fragment"), [
    ("not a uri", "a connection URI looks like"),
    ("postgres://h:abc/db", "port 'abc' in the URI is not a number"),
    ("postgres://h:70000/db", "port must be a number from 1 to 65535, got 70000"),
    ("a://b://c://d", "more than two '://'"),
    ("http://h/?__extra__=%5B1%5D", "extra must be a JSON object"),
    ("http://h/?__extra__=%7Bnope", "extra is not valid JSON"),
    ("9x://h", "scheme '9x' is not a connection type"),
    ("postgres://[::1:5432/db", "no closing ']'"),
])
def test_a_bad_uri_is_an_error_naming_the_part(uri: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError, match="connection 'bad'") as caught:
        Connection.from_uri("bad", uri)
    assert fragment in str(caught.value)


def test_an_error_about_a_uri_never_shows_its_password() -> None:
    with pytest.raises(InvalidInputError) as caught:
        Connection.from_uri("bad", "postgres://etl:hunter2-secret@db:notaport")
    assert "hunter2-secret" not in str(caught.value)
    with pytest.raises(InvalidInputError) as caught:
        Connection.from_uri("bad", "etl:hunter2-secret@db")
    assert "hunter2-secret" not in str(caught.value)


@pytest.mark.parametrize(("conn", "fragment"), [
    (Connection("a b", "postgres"), "connection id 'a b' holds ' '"),
    (Connection("x" * 251, "postgres"), "is 251 characters long"),
    (Connection("ok", None), "conn_type is required"),
    (Connection("ok", "post gres"), "conn_type 'post gres' is not valid"),
    (Connection("ok", "postgres", port=0), "port must be a number from 1 to 65535, got 0"),
    (Connection("ok", "postgres", port=65536), "got 65536"),
    (Connection("ok", "postgres", port="5432"), "got '5432'"),  # type: ignore[arg-type]
    (Connection("ok", "postgres", extra="{"), "extra is not valid JSON"),
    (Connection("ok", "postgres", extra="[1, 2]"), "extra must be a JSON object"),
    (Connection("ok", "postgres", host="h" * 501), "host is longer than 500 characters"),
    (Connection("ok", "postgres", login=5), "login must be text"),  # type: ignore[arg-type]
])
def test_validate_names_the_wrong_field(conn: Connection, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        conn.validate()
    assert fragment in str(caught.value)


def test_the_json_form() -> None:
    conn = Connection.from_json("j", json.dumps({
        "conn_type": "postgres", "host": "db", "login": "u", "password": "pw", "port": "5432",
        "schema": "s", "extra": {"sslmode": "require"}, "description": "the db",
    }))
    assert fields(conn) == ("j", "postgres", "db", "u", "pw", "s", 5432, {"sslmode": "require"})
    assert conn.description == "the db"
    assert conn.to_dict(masked=True) == {
        "conn_type": "postgres", "description": "the db", "host": "db", "login": "u",
        "password": "***", "schema": "s", "port": 5432, "extra": {"sslmode": "require"},
    }
    with pytest.raises(InvalidInputError, match=r"unknown field.*'hots'"):
        Connection.from_json("j", '{"conn_type": "http", "hots": "x"}')
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        Connection.from_json("j", "{nope")
    with pytest.raises(InvalidInputError, match="must be an object"):
        Connection.from_json("j", "[1]")


def test_uri_and_extra_as_a_dict_in_the_constructor() -> None:
    conn = Connection("u", uri="postgres://a:b@h:1/s")
    assert fields(conn) == ("u", "postgres", "h", "a", "b", "s", 1, {})
    assert Connection("d", "http", extra={"k": 1}).extra == '{"k": 1}'  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="either a URI or the fields"):
        Connection("u", "postgres", uri="postgres://h")


def test_repr_never_shows_the_password() -> None:
    conn = Connection("r", "postgres", host="h", login="u", password="do-not-print-me")
    assert "do-not-print-me" not in repr(conn)
    assert "password='***'" not in repr(conn) and "password=***" in repr(conn)
