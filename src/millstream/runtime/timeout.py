"""Stopping a task that runs past its execution_timeout."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
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
        def on_alarm(signum: int, frame: object) -> None:
            raise TaskTimeout(message)

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    target = threading.get_ident()
    fired = threading.Event()

    def interrupt() -> None:
        fired.set()
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(target), ctypes.py_object(TaskTimeout)
        )

    timer = threading.Timer(seconds, interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield
    except TaskTimeout:
        raise TaskTimeout(message) from None
    finally:
        timer.cancel()
