"""Secret values shown as *** wherever millstream writes text: task logs, CLI output, listings.

Two rules, as in Airflow:

- a value whose *name* is sensitive (a variable key, a dict key or a field name containing
  ``password``, ``secret``, ``passwd``, ``authorization``, ``api_key``, ``apikey``,
  ``access_token``, ``private_key``, ``passphrase``, ``token``, ``keyfile_dict`` or
  ``service_account``) is replaced whole by ``***``;
- a registered secret (a connection's password, a sensitive variable's value, the secret
  fields of a connection's extra) is replaced by ``***`` wherever it appears in a text,
  including its percent-encoded form inside a URI.

Secrets are registered in the process that fetched them (a task's worker process), so
that process's log handler, stdout and stderr hide them. Strings shorter than
:data:`MIN_MASKED_LENGTH` are not registered: masking every "abc" in a log would hide
more than it protects.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_MASKED_LENGTH = 5

SENSITIVE_WORDS = (
    "access_token", "api_key", "apikey", "authorization", "keyfile_dict", "passphrase",
    "passwd", "password", "private_key", "secret", "service_account", "token",
)


def is_sensitive_name(name: object) -> bool:
    """Whether a variable key, field or dict key names a secret (see the module docstring)."""
    return isinstance(name, str) and _sensitive(name)


@functools.lru_cache(maxsize=1024)  # the same field and key names come again and again
def _sensitive(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SENSITIVE_WORDS)


class SecretsMasker:
    """A set of secret strings and the compiled pattern that finds any of them in a text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        """Whether any secret is registered (no work to do in text otherwise)."""
        return self._pattern is not None

    def add(self, value: Any, name: str | None = None) -> None:
        """Register ``value``: a string, or the secret parts of a dict or list.

        In a dict only values under sensitive keys are registered, unless ``name`` (the
        dict's own name) is sensitive, in which case every string in it is.
        """
        found: set[str] = set()
        everything = not isinstance(value, Mapping) or is_sensitive_name(name)
        _collect(value, everything, found, depth=0)
        forms = {form for secret in found for form in _forms(secret)}
        new = {form for form in forms if len(form) >= MIN_MASKED_LENGTH} - self._secrets
        if not new:
            return
        with self._lock:
            self._secrets |= new
            ordered = sorted(self._secrets, key=len, reverse=True)  # longest match first
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def clear(self) -> None:
        with self._lock:
            self._secrets.clear()
            self._pattern = None

    def redact_text(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def redact(self, value: Any, name: str | None = None, depth: int = 0) -> Any:
        if name is not None and is_sensitive_name(name) and value not in (None, ""):
            if isinstance(value, Mapping):
                return {k: MASK for k in value}
            if isinstance(value, list | tuple):
                return [MASK for _ in value]
            return MASK
        if isinstance(value, str):
            return self.redact_text(value)
        if depth > 20:  # a self-referencing structure: stop rather than recurse forever
            return value
        if isinstance(value, Mapping):
            return {k: self.redact(v, k if isinstance(k, str) else None, depth + 1)
                    for k, v in value.items()}
        if isinstance(value, list | tuple):
            items = [self.redact(v, None, depth + 1) for v in value]
            return items if isinstance(value, list) else tuple(items)
        return value


def _collect(value: Any, all_strings: bool, found: set[str], depth: int) -> None:
    if depth > 20:
        return
    if isinstance(value, str):
        if all_strings:
            found.add(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _collect(item, all_strings or is_sensitive_name(key), found, depth + 1)
    elif isinstance(value, Iterable) and not isinstance(value, bytes | bytearray):
        for item in value:
            _collect(item, all_strings, found, depth + 1)
    elif all_strings and isinstance(value, int | float) and not isinstance(value, bool):
        found.add(str(value))


def _forms(secret: str) -> set[str]:
    """The secret and the forms it takes inside URIs and query strings."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    # A multi-line secret (a private key) is also hidden line by line.
    forms.update(line.strip() for line in secret.splitlines())
    return {form for form in forms if form}


_masker = SecretsMasker()


def mask_secret(value: Any, name: str | None = None) -> None:
    """Hide ``value`` from now on in this process's task logs and redacted output."""
    _masker.add(value, name)


def redact(value: Any, name: str | None = None) -> Any:
    """A copy of ``value`` with secrets replaced by ``***`` (strings, dicts and lists)."""
    return _masker.redact(value, name)


def redact_text(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    return _masker.redact_text(text)


def clear_secrets() -> None:
    """Forget every registered secret (for a process that starts anew, and for tests)."""
    _masker.clear()


class RedactingFilter(logging.Filter):
    """A log filter that replaces registered secrets in a record's message and traceback.

    Install it on a handler: it then applies to every record the handler writes, whichever
    logger the record came from.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not _masker.active:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not fit; leave it to the formatter
            return True
        redacted = _masker.redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and record.exc_info[0] is not None:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = _masker.redact_text(text)
        if record.stack_info:
            record.stack_info = _masker.redact_text(record.stack_info)
        return True


class RedactingStream:
    """A text stream that hides registered secrets in what is written through it.

    Text is passed on a whole line at a time (a secret split across two ``write`` calls
    is still found); :meth:`flush` passes on an unfinished line as it is.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        if not self._pending and not _masker.active:
            return self._stream.write(text)
        self._pending += text
        if "\n" in self._pending:
            complete, _, self._pending = self._pending.rpartition("\n")
            self._stream.write(_masker.redact_text(complete + "\n"))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, ""
            self._stream.write(_masker.redact_text(pending))
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


__all__ = [
    "MASK", "RedactingFilter", "RedactingStream", "SecretsMasker", "clear_secrets",
    "is_sensitive_name", "mask_secret", "redact", "redact_text",
]
