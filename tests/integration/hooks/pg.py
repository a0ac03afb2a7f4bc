"""A PostgreSQL schema of a test's own, as a connection URI whose search_path points at it."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest

POSTGRES_ENV = "MILLSTREAM_TEST_POSTGRES_URL"


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip("needs PostgreSQL: set MILLSTREAM_TEST_POSTGRES_URL")
    return url


@contextlib.contextmanager
def postgres_schema_uri(purpose: str) -> Iterator[tuple[str, str]]:
    """(connection URI, schema name): a new schema, dropped with everything in it at the end.

    Other people run tests on the same database at the same time, so nothing here touches
    tables outside the schema.
    """
    import psycopg

    url = postgres_url()
    schema = f"millstream_{purpose}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}options=-csearch_path%3D{schema}", schema
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
