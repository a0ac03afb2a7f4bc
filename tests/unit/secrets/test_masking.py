"""Masking: sensitive names, registered secrets in text, the log filter and the stdout wrapper."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from millstream.secrets.masking import (
    MASK,
    RedactingFilter,
    RedactingStream,
    is_sensitive_name,
    mask_secret,
    redact,
    redact_text,
)


@pytest.mark.parametrize("name", [
    "password", "db_PASSWORD", "passwd", "client_secret", "Authorization", "stripe_api_key",
    "apikey", "access_token", "ssh_private_key", "passphrase", "refresh_token",
    "keyfile_dict", "service_account_json",
])
def test_sensitive_names(name: str) -> None:
    assert is_sensitive_name(name)


@pytest.mark.parametrize("name", ["environment", "host", "batch_size", "", None, 3])
def test_names_that_are_not_sensitive(name: object) -> None:
    assert not is_sensitive_name(name)


def test_a_registered_secret_is_hidden_in_any_text_and_inside_uris() -> None:
    secret = "p@ss w/rd"
    assert redact_text(f"connecting with {secret}") == f"connecting with {secret}"
    mask_secret(secret)
    assert redact_text(f"connecting with {secret}!") == f"connecting with {MASK}!"
    assert redact_text("postgres://u:p%40ss%20w%2Frd@h/db") == f"postgres://u:{MASK}@h/db"
    assert redact_text("form: p%40ss+w%2Frd") == f"form: {MASK}"
    assert redact_text("nothing here") == "nothing here"


def test_the_longest_secret_wins_and_short_strings_are_not_registered() -> None:
    mask_secret("abcdefgh")
    mask_secret("abcdefghijkl")
    mask_secret("abc")  # too short to mask without hiding half of every log
    assert redact_text("x abcdefghijkl y abcdefgh z abc") == f"x {MASK} y {MASK} z abc"


def test_a_multi_line_secret_is_hidden_line_by_line() -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----"
    mask_secret(key)
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in redact_text(
        "line 2 is MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")


def test_a_dict_registers_only_the_values_of_sensitive_keys() -> None:
    mask_secret({"api_key": "key-0123456789", "region": "eu-west-1",
                 "nested": {"client_secret": "nested-secret-value"}})
    assert redact_text("key-0123456789 eu-west-1 nested-secret-value") == (
        f"{MASK} eu-west-1 {MASK}")
    mask_secret({"anything": "under-a-secret-name"}, name="credentials_secret")
    assert redact_text("under-a-secret-name") == MASK


def test_redact_masks_values_under_sensitive_keys_and_keeps_shapes() -> None:
    mask_secret("registered-secret")
    value = {
        "password": "short", "user": "etl", "tokens": ["a", "b"],
        "note": "uses registered-secret", "rows": [1, 2], "pair": ("registered-secret", 2),
        "empty_password": "",
    }
    assert redact(value) == {
        "password": MASK, "user": "etl", "tokens": [MASK, MASK],
        "note": f"uses {MASK}", "rows": [1, 2], "pair": (MASK, 2), "empty_password": "",
    }
    assert redact("s3cr3t-value", name="my_password") == MASK
    assert redact(42) == 42


@pytest.fixture
def task_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("millstream.test_masking")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, sink
    logger.handlers = []


def test_the_log_filter_hides_secrets_in_messages_arguments_and_tracebacks(
    task_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, sink = task_logger
    logger.info("before registering: %s", "hunter2-secret")
    mask_secret("hunter2-secret")
    logger.info("password is %s", "hunter2-secret")
    logger.info("dsn=%(dsn)s", {"dsn": "postgres://u:hunter2-secret@h"})
    try:
        raise RuntimeError("login failed for hunter2-secret")
    except RuntimeError:
        logger.exception("query failed")
    logger.info("a plain line with %d args", 1)
    text = sink.getvalue()
    lines = text.splitlines()
    assert lines[0] == "INFO before registering: hunter2-secret"  # not known yet
    assert lines[1] == f"INFO password is {MASK}"
    assert lines[2] == f"INFO dsn=postgres://u:{MASK}@h"
    assert f"RuntimeError: login failed for {MASK}" in text
    assert text.count("hunter2-secret") == 1
    assert lines[-1] == "INFO a plain line with 1 args"


def test_the_stream_wrapper_hides_secrets_even_split_across_writes() -> None:
    sink = io.StringIO()
    stream = RedactingStream(sink)
    stream.write("no secret known yet\n")
    assert sink.getvalue() == "no secret known yet\n"  # passed straight on
    mask_secret("split-secret-value")
    print("the value is split-", end="", file=stream)
    print("secret-value and more", file=stream)
    assert sink.getvalue().endswith(f"the value is {MASK} and more\n")
    stream.write("unfinished split-secret-value")
    assert "unfinished" not in sink.getvalue()  # held until the line ends or a flush
    stream.flush()
    assert sink.getvalue().endswith(f"unfinished {MASK}")
    assert "split-secret-value" not in sink.getvalue()
    assert stream.getvalue() == sink.getvalue()  # anything else reaches the real stream
