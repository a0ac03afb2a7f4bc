"""Which schema revisions a database is at, and the latest this version knows, without Alembic.

Alembic (with Mako and Pygments) would stay in a long-running process's memory for as long
as it runs; a process whose database is already up to date never needs it. The latest
revisions are read from the ``revision`` and ``down_revision`` lines of the migration
files; anything these lines cannot tell (a merge of two branches) makes
:func:`is_at_head` say no, and the caller asks Alembic.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, inspect, text

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"

_ASSIGNMENT = re.compile(
    r"""^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(?:"([^"]*)"|'([^']*)'|None)\s*$""",
    re.MULTILINE)


@cache
def head_revisions() -> frozenset[str]:
    """The revisions no migration comes after (the heads of the migration files)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = {m.group(1): m.group(2) or m.group(3)
                 for m in _ASSIGNMENT.finditer(path.read_text(encoding="utf-8"))}
        if found.get("revision"):
            revisions.add(found["revision"])
        if found.get("down_revision"):
            parents.add(found["down_revision"])
    return frozenset(revisions - parents)


def database_revisions(engine: Engine) -> frozenset[str] | None:
    """The revisions the database records; None when migrations never ran on it."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
        return frozenset(str(value) for value in rows.scalars())


def is_at_head(engine: Engine) -> bool:
    """Whether the database has every migration (False when in doubt)."""
    heads = head_revisions()
    return len(heads) == 1 and database_revisions(engine) == heads
