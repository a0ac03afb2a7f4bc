"""The Celery executor's parts that need no broker: messages, notes, and the log server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from millstream.executors.celery_app import TryMessage
from millstream.runtime.log_serving import (
    LogServer,
    LogServerError,
    check_token,
    fetch_log,
    make_token,
    relative_log_path,
)
from millstream.runtime.worker import result_path, try_log_path
from millstream.store.outcome_notes import MAX_PAYLOAD, OutcomeNote
from millstream.store.records import TaskInstanceKey

KEY = TaskInstanceKey("etl", "scheduled__2026-01-01T00:00:00+00:00", "load", 3)


# -- messages ---------------------------------------------------------------------------------
def test_a_try_message_carries_only_the_identifiers_and_reads_them_back() -> None:
    message = TryMessage("etl", KEY.run_id, "load", 3, 2, "step-1")
    assert message.args() == ["etl", KEY.run_id, "load", 3, 2, "step-1"]
    assert TryMessage.from_args(message.args()) == message
    assert message.ref.key == KEY and message.ref.try_number == 2


@pytest.mark.parametrize(("args", "complaint"), [
    (["etl", "r", "t", 0, 1], "6 arguments, this one has 5"),
    (["", "r", "t", 0, 1, None], "dag id of a try message must be a non-empty string"),
    (["etl", "r", 7, 0, 1, None], "task id of a try message must be a non-empty string"),
    (["etl", "r", "t", "0", 1, None], "map index of a try message must be an integer"),
    (["etl", "r", "t", 0, True, None], "try number of a try message must be an integer"),
    (["etl", "r", "t", 0, 1, 5], "step id of a try message must be a string"),
])
def test_a_malformed_try_message_is_refused_naming_what_is_wrong(
    args: list[object], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        TryMessage.from_args(args)


# -- outcome notes ------------------------------------------------------------------------------
def test_an_outcome_note_goes_through_its_payload_unchanged() -> None:
    note = OutcomeNote(KEY, 2, "success", ("report", "notify"))
    assert OutcomeNote.from_payload(note.to_payload()) == note
    started = OutcomeNote(KEY, 1, "running")
    assert OutcomeNote.from_payload(started.to_payload()) == started


def test_a_note_too_long_for_postgresql_says_any_task_may_have_changed() -> None:
    many = tuple(f"task_{i:05d}_with_a_long_name" for i in range(1000))
    payload = OutcomeNote(KEY, 1, "failed", many).to_payload()
    assert len(payload.encode()) <= MAX_PAYLOAD
    assert OutcomeNote.from_payload(payload).changed is None


# -- tokens and the log server ----------------------------------------------------------------
def test_a_token_is_good_for_its_path_its_secret_and_a_short_while_only() -> None:
    token = make_token("s3cret", "etl/run/load/1.log", now=1000.0)
    assert check_token("s3cret", "etl/run/load/1.log", token, now=1001.0)
    assert not check_token("other", "etl/run/load/1.log", token, now=1001.0)
    assert not check_token("s3cret", "etl/run/load/2.log", token, now=1001.0)
    assert not check_token("s3cret", "etl/run/load/1.log", token, now=2000.0)
    assert not check_token("s3cret", "etl/run/load/1.log", "garbage", now=1001.0)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    server = LogServer(tmp_path, "s3cret", "127.0.0.1", 0)
    server.start()
    try:
        yield tmp_path, server.port
    finally:
        server.stop()


def test_the_log_server_gives_pieces_of_a_log_to_the_holder_of_the_secret(
    served: tuple[Path, int],
) -> None:
    folder, port = served
    log = try_log_path(folder, KEY, 1)
    log.parent.mkdir(parents=True)
    log.write_text("first line\nsecond line\n")
    piece = fetch_log("w1@127.0.0.1", port, "s3cret", KEY, 1, 6, 4)
    assert piece is not None
    assert (piece.data, piece.size, piece.ended) == (b"line", 23, False)
    result_path(folder, KEY, 1).write_text("{}")
    ended = fetch_log("127.0.0.1", port, "s3cret", KEY, 1, 0, 100)
    assert ended is not None and ended.ended and ended.data == b"first line\nsecond line\n"
    assert fetch_log("127.0.0.1", port, "s3cret", KEY, 2, 0, 100) is None  # no such try


def test_the_log_server_refuses_a_wrong_secret_and_paths_outside_its_folder(
    served: tuple[Path, int],
) -> None:
    folder, port = served
    (folder.parent / "secret.log").write_text("not yours")
    log = try_log_path(folder, KEY, 1)
    log.parent.mkdir(parents=True)
    log.write_text("hello\n")
    with pytest.raises(LogServerError, match="answered 403"):
        fetch_log("127.0.0.1", port, "wrong", KEY, 1, 0, 100)
    for path in ("../secret.log", "%2E%2E/secret.log"):
        answer = httpx.get(f"http://127.0.0.1:{port}/log/{path}", timeout=5, headers={
            "Authorization": f"Millstream-Log {make_token('s3cret', path)}"})
        assert answer.status_code == 404, (path, answer.text)
    assert relative_log_path(KEY, 1) == try_log_path(Path("."), KEY, 1).as_posix()


def test_a_worker_that_cannot_be_reached_is_an_error_naming_it() -> None:
    with pytest.raises(LogServerError, match="cannot reach the log server of worker w9@"):
        fetch_log("w9@127.0.0.1", 9, "s3cret", KEY, 1, 0, 100, timeout_s=2)
