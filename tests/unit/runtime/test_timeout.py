"""execution_timeout: interrupting a block in the main thread and in other threads."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest

from millstream.exceptions import TaskTimeout
from millstream.runtime.timeout import execution_timeout


def test_a_blocking_sleep_in_the_main_thread_is_interrupted() -> None:
    started = time.monotonic()
    with pytest.raises(TaskTimeout, match=r"task 'nap' exceeded its execution_timeout of 0.2 s"), \
            execution_timeout(0.2, "nap"):
        time.sleep(5)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("seconds", [None, 0, -1])
def test_no_timeout_means_no_alarm(seconds: float | None) -> None:
    before = signal.getsignal(signal.SIGALRM)
    with execution_timeout(seconds, "free"):
        assert signal.getsignal(signal.SIGALRM) is before
        time.sleep(0.05)


def test_a_block_that_ends_in_time_leaves_no_alarm_and_restores_the_handler() -> None:
    before = signal.getsignal(signal.SIGALRM)
    with execution_timeout(5, "quick"):
        assert signal.getsignal(signal.SIGALRM) is not before
    assert signal.getsignal(signal.SIGALRM) is before
    time.sleep(0.05)  # nothing fires later


def test_an_outer_alarm_survives_a_timed_block() -> None:
    """Code that already uses SIGALRM (a test runner's own timeout, say) keeps its alarm."""
    fired: list[int] = []

    def outer(signum: int, frame: Any) -> None:
        fired.append(signum)

    previous = signal.signal(signal.SIGALRM, outer)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with execution_timeout(5, "inner"):
            pass
        remaining = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 0 < remaining <= 0.5
        assert signal.getsignal(signal.SIGALRM) is outer
        deadline = time.monotonic() + 3
        while not fired and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fired == [signal.SIGALRM]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _in_thread(target: Any) -> list[BaseException | str]:
    outcome: list[BaseException | str] = []

    def body() -> None:
        try:
            target()
            outcome.append("finished")
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    return outcome


def test_python_code_in_another_thread_is_interrupted() -> None:
    def busy() -> None:
        with execution_timeout(0.2, "busy"):
            end = time.monotonic() + 5
            while time.monotonic() < end:
                time.sleep(0.01)

    started = time.monotonic()
    (outcome,) = _in_thread(busy)
    assert time.monotonic() - started < 2
    assert isinstance(outcome, TaskTimeout)
    assert "'busy' exceeded its execution_timeout of 0.2 s" in str(outcome)


def test_a_thread_block_that_ends_in_time_is_not_interrupted_later() -> None:
    def quick() -> None:
        with execution_timeout(0.1, "quick"):
            pass
        end = time.monotonic() + 0.4  # well past the deadline, still running Python code
        while time.monotonic() < end:
            time.sleep(0.01)

    assert _in_thread(quick) == ["finished"]
