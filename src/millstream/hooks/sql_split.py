"""Cutting a SQL script into statements at the semicolons that are not quoted or commented."""

from __future__ import annotations

import re

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def split_sql_string(sql: str) -> list[str]:
    """The statements of ``sql``, without their final semicolons.

    Semicolons inside '...' strings, "..." identifiers, $tag$ ... $tag$ bodies, -- line
    comments and /* block comments */ do not end a statement. Statements made only of
    whitespace and comments are dropped.
    """
    statements: list[str] = []
    start = 0
    has_code = False
    i = 0
    length = len(sql)
    while i < length:
        char = sql[i]
        if char in ("'", '"'):
            i = _after_quoted(sql, i, char)
            has_code = True
            continue
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = length if end < 0 else end + 1
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = length if end < 0 else end + 2
            continue
        if char == "$":
            match = _DOLLAR_TAG.match(sql, i)
            if match is not None and not _in_word(sql, i):
                end = sql.find(match.group(0), match.end())
                i = length if end < 0 else end + len(match.group(0))
                has_code = True
                continue
        if char == ";":
            if has_code:
                statements.append(sql[start:i].strip())
            start = i + 1
            has_code = False
        elif not char.isspace():
            has_code = True
        i += 1
    if has_code:
        statements.append(sql[start:].strip())
    return statements


def _after_quoted(sql: str, i: int, quote: str) -> int:
    """The index just past the string or identifier opened at ``i`` (doubled quotes escape)."""
    j = i + 1
    while True:
        end = sql.find(quote, j)
        if end < 0:
            return len(sql)
        if sql.startswith(quote * 2, end):
            j = end + 2
            continue
        return end + 1


def _in_word(sql: str, i: int) -> bool:
    """A ``$`` right after an identifier character is part of a name (``a$b``), or ``$1``."""
    return i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_")


__all__ = ["split_sql_string"]
