"""What an identifier may look like: DAG, task, run, pool, connection and variable ids.

Identifiers end up in URLs, log file paths, command lines and HTML, so each kind has one
rule, checked alike by the DAG parser, the API, the UI, the CLI and the operators: the
characters it may hold and its length. No identifier is made only of dots (``..`` would
walk up a log folder), none starts or ends with a space, and none holds a slash, a
control character or a newline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from millstream.exceptions import InvalidInputError

__all__ = ["Identifier", "IdentifierRule", "check_identifier", "identifier_rule",
           "is_identifier"]


class Identifier(StrEnum):
    """The kinds of identifier, named as error messages name them."""

    DAG = "DAG id"
    TASK = "task id"
    RUN = "run id"
    POOL = "pool name"
    CONNECTION = "connection id"
    VARIABLE = "variable key"


@dataclass(frozen=True)
class IdentifierRule:
    """The characters an identifier may hold anywhere (the body of a regex character
    class), those it may also hold inside but not at either end, the rule in words for
    error messages, and its longest length."""

    anywhere: str
    inside: str
    in_words: str
    max_length: int

    @property
    def pattern(self) -> str:
        """The whole-identifier pattern, as OpenAPI and form fields show it (all but the
        "not only dots" part, which a plain regular expression cannot say briefly)."""
        edge = f"[{self.anywhere}]"
        if not self.inside:
            return rf"^{edge}{{1,{self.max_length}}}$"
        middle = f"[{self.anywhere}{self.inside}]"
        return rf"^{edge}(?:{middle}{{0,{self.max_length - 2}}}{edge})?$"

    def allows(self, char: str) -> bool:
        return _compiled(f"[{self.anywhere}{self.inside}]").fullmatch(char) is not None

    def matches(self, value: str) -> bool:
        return _compiled(self.pattern).fullmatch(value) is not None and value.strip(".") != ""


_KEY = IdentifierRule(r"A-Za-z0-9_.\-", "", "letters, digits, '_', '-' and '.'", 250)
_RUN_CHARACTERS = r"A-Za-z0-9_.~:+\-"
_RULES = {
    Identifier.DAG: _KEY,
    Identifier.TASK: _KEY,
    Identifier.RUN: IdentifierRule(_RUN_CHARACTERS, "",
                                   "letters, digits and the characters _ . ~ : + -", 250),
    Identifier.POOL: IdentifierRule(_RUN_CHARACTERS, " ",
                                    "letters, digits, spaces inside and _ . ~ : + -", 256),
    Identifier.CONNECTION: _KEY,
    Identifier.VARIABLE: _KEY,
}

_cache: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    compiled = _cache.get(pattern)
    if compiled is None:
        compiled = _cache[pattern] = re.compile(pattern)
    return compiled


def identifier_rule(kind: Identifier) -> IdentifierRule:
    """The rule identifiers of ``kind`` follow."""
    return _RULES[kind]


def is_identifier(value: object, kind: Identifier) -> bool:
    """Whether ``value`` is a valid identifier of ``kind`` (see :func:`check_identifier`)."""
    return isinstance(value, str) and _RULES[kind].matches(value)


def check_identifier(value: object, kind: Identifier) -> str:
    """``value`` if it is a valid identifier of ``kind``, else an InvalidInputError that
    says what is wrong with it and what is allowed."""
    rule = _RULES[kind]
    if not isinstance(value, str):
        raise InvalidInputError(f"{kind} {value!r} is a {type(value).__name__}, not text: use "
                                f"{rule.in_words} (1 to {rule.max_length} characters)")
    if rule.matches(value):
        return value
    shown = value if len(value) <= 80 else value[:77] + "..."
    if len(value) > rule.max_length:
        problem = f"is {len(value)} characters long; at most {rule.max_length} are allowed"
    elif not value:
        problem = "is empty"
    elif value.strip(".") == "":
        problem = "is only dots"
    elif value != value.strip() and all(rule.allows(c) for c in value):
        problem = "starts or ends with a space"
    else:
        bad = sorted({c for c in value if not rule.allows(c)})
        shown_bad = ", ".join(repr(c) for c in bad[:5]) + ("" if len(bad) <= 5 else ", ...")
        problem = f"holds {shown_bad}"
    raise InvalidInputError(f"{kind} {shown!r} {problem}: use {rule.in_words} "
                            f"(1 to {rule.max_length} characters)")
