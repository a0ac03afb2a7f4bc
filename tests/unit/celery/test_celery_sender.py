"""The broker sender: messages go out in order from its thread, again when refused, never
when their try is no longer wanted; until taken they are pending."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from millstream.executors.celery_app import TryMessage
from millstream.executors.celery_sender import BrokerSender


def message(task_id: str, try_number: int = 1) -> TryMessage:
    return TryMessage("dag", "run", task_id, -1, try_number, f"step-{task_id}")


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_messages_go_out_in_order_and_are_pending_until_the_broker_takes_them() -> None:
    taken: list[tuple[str, str]] = []
    gate = threading.Event()

    def send(msg: TryMessage, queue: str) -> bool:
        gate.wait(5)
        taken.append((msg.task_id, queue))
        return True

    sender = BrokerSender(send, lambda msg: True)
    try:
        for name in ("a", "b", "c"):
            sender.put(message(name), f"q-{name}")
        assert {key.task_id for key in sender.pending()} == {"a", "b", "c"}
        assert len(sender) == 3
        gate.set()
        wait_for(lambda: len(sender) == 0)
        assert taken == [("a", "q-a"), ("b", "q-b"), ("c", "q-c")]
        assert sender.pending() == set()
    finally:
        sender.stop()


def test_a_refused_message_stays_first_and_is_sent_again_after_the_pause() -> None:
    calls: list[tuple[str, float]] = []

    def send(msg: TryMessage, queue: str) -> bool:
        calls.append((msg.task_id, time.monotonic()))
        return len(calls) > 2  # the broker is away for the first two attempts

    sender = BrokerSender(send, lambda msg: True, resend_s=0.05)
    try:
        sender.put(message("a"), "q")
        sender.put(message("b"), "q")  # a new message does not hurry the next attempt
        wait_for(lambda: len(sender) == 0)
        assert [name for name, _ in calls] == ["a", "a", "a", "b"]
        assert calls[1][1] - calls[0][1] >= 0.045
        assert calls[2][1] - calls[1][1] >= 0.045
    finally:
        sender.stop()


def test_a_message_whose_try_is_no_longer_wanted_is_dropped_unsent() -> None:
    sent: list[str] = []

    def send(msg: TryMessage, queue: str) -> bool:
        sent.append(msg.task_id)
        return True

    sender = BrokerSender(send, lambda msg: msg.task_id != "given-up")
    try:
        sender.put(message("given-up"), "q")
        sender.put(message("kept"), "q")
        wait_for(lambda: len(sender) == 0)
        assert sent == ["kept"]
    finally:
        sender.stop()


def test_after_stop_nothing_more_is_sent_and_a_new_message_is_an_error() -> None:
    sent: list[str] = []

    def refuse(msg: TryMessage, queue: str) -> bool:
        sent.append(msg.task_id)
        return False

    sender = BrokerSender(refuse, lambda msg: True, resend_s=60)
    sender.put(message("a"), "q")
    wait_for(lambda: sent == ["a"])  # refused: the next attempt is a minute away
    started = time.monotonic()
    sender.stop()
    assert time.monotonic() - started < 5  # the pause does not hold the stop
    assert sent == ["a"]
    try:
        sender.put(message("b"), "q")
    except RuntimeError as exc:
        assert "stopped" in str(exc)
    else:
        raise AssertionError("a stopped sender took a message")
