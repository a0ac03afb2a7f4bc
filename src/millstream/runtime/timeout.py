"""Stopping a task that runs past its execution_timeout."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
import time
from collections.abc import Iterator

from millstream.exceptions import TaskTimeout


@contextlib.contextmanager
def execution_timeout(seconds: float | None, task_id: str) -> Iterator[None]:
    """Raise TaskTimeout inside the block once ``seconds`` have passed.

    In the main thread a real-time alarm interrupts even blocking sleeps and reads; in
    another thread the exception is delivered between Python bytecodes instead.
    """
    if not seconds or seconds <= 0:
        yield
        return
    message = f"task {task_id!r} exceeded its execution_timeout of {seconds:g} s"
    if threading.current_thread() is threading.main_thread():
        with _alarm(seconds, message):
            yield
        return
    with _async_interrupt(seconds, message):
        yield


@contextlib.contextmanager
def _alarm(seconds: float, message: str) -> Iterator[None]:
    """A real-time alarm; an alarm someone else had set is put back, less the time spent."""

    def on_alarm(signum: int, frame: object) -> None:
        raise TaskTimeout(message)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if previous is not None:
            signal.signal(signal.SIGALRM, previous)
        if outer_delay > 0:
            # An outer alarm due while the block ran fires as soon as the block is over.
            left = outer_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), outer_interval)


@contextlib.contextmanager
def _async_interrupt(seconds: float, message: str) -> Iterator[None]:
    """Raise TaskTimeout in this thread from a timer, never once the block has ended."""
    target = ctypes.c_ulong(threading.get_ident())
    lock = threading.Lock()
    state = {"done": False, "fired": False}

    def interrupt() -> None:
        with lock:
            if not state["done"]:
                state["fired"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, ctypes.py_object(TaskTimeout))

    timer = threading.Timer(seconds, interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield
    except TaskTimeout:
        raise TaskTimeout(message) from None
    finally:
        with lock:
            state["done"] = True
            if state["fired"]:
                # Not delivered yet if the block ended first: withdraw it.
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, None)
        timer.cancel()
