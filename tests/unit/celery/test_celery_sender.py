"""The broker sender: a message goes out at once when none waits before it; one the broker
refused is sent again after a pause from the sender's thread, followed, in order, by those
given meanwhile; a message whose try is no longer wanted is never sent."""

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


class Broker:
    """Takes messages, refusing the first ``refusals`` attempts; notes each attempt."""

    def __init__(self, refusals: int = 0) -> None:
        self.refusals = refusals
        self.attempts: list[tuple[str, str, float, int]] = []  # task, queue, when, thread

    def send(self, msg: TryMessage, queue: str) -> bool:
        self.attempts.append((msg.task_id, queue, time.monotonic(), threading.get_ident()))
        return len(self.attempts) > self.refusals

    def tasks(self) -> list[str]:
        return [task for task, _, _, _ in self.attempts]


def test_with_none_waiting_a_message_is_sent_at_once_by_the_caller() -> None:
    broker = Broker()
    sender = BrokerSender(broker.send, lambda msg: True)
    try:
        sender.put(message("a"), "q-a")
        sender.put(message("b"), "q-b")
        assert [(task, queue) for task, queue, _, _ in broker.attempts] == [
            ("a", "q-a"), ("b", "q-b")]
        assert {thread for _, _, _, thread in broker.attempts} == {threading.get_ident()}
        assert sender.pending() == set()
        assert len(sender) == 0
    finally:
        sender.stop()


def test_a_refused_message_is_pending_and_sent_again_after_the_pause_before_later_ones(
) -> None:
    broker = Broker(refusals=2)
    sender = BrokerSender(broker.send, lambda msg: True, resend_s=0.1)
    try:
        sender.put(message("a"), "q")
        sender.put(message("b"), "q")  # waits behind a: not sent before it
        assert broker.tasks() == ["a"]
        assert {key.task_id for key in sender.pending()} == {"a", "b"}
        wait_for(lambda: len(sender) == 0)
        assert broker.tasks() == ["a", "a", "a", "b"]
        moments = [when for _, _, when, _ in broker.attempts]
        assert moments[1] - moments[0] >= 0.09  # the pause, not at once
        assert moments[2] - moments[1] >= 0.09
        assert broker.attempts[1][3] != threading.get_ident()  # the sender's thread
        sender.put(message("c"), "q")  # none waits again: at once
        assert broker.tasks()[-1] == "c"
        assert broker.attempts[-1][3] == threading.get_ident()
    finally:
        sender.stop()


def test_a_message_whose_try_is_no_longer_wanted_is_dropped_unsent() -> None:
    broker = Broker(refusals=1)
    sender = BrokerSender(broker.send, lambda msg: msg.task_id != "given-up", resend_s=0.05)
    try:
        sender.put(message("a"), "q")
        sender.put(message("given-up"), "q")
        sender.put(message("kept"), "q")
        wait_for(lambda: len(sender) == 0)
        assert broker.tasks() == ["a", "a", "kept"]
    finally:
        sender.stop()


def test_after_stop_nothing_more_is_sent_and_a_new_message_is_an_error() -> None:
    broker = Broker(refusals=1000)
    sender = BrokerSender(broker.send, lambda msg: True, resend_s=60)
    sender.put(message("a"), "q")  # refused: the next attempt is a minute away
    started = time.monotonic()
    sender.stop()
    assert time.monotonic() - started < 5  # the pause does not hold the stop
    assert broker.tasks() == ["a"]
    try:
        sender.put(message("b"), "q")
    except RuntimeError as exc:
        assert "stopped" in str(exc)
    else:
        raise AssertionError("a stopped sender took a message")
