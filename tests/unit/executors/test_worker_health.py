"""Health: what a try changed in its worker, seen after the try (each case in a fresh fork,
so that the test process's own threads and handlers do not count)."""

from __future__ import annotations

import json
import os
import signal
import threading
import types
from collections.abc import Callable
from typing import Any

import pytest

from millstream.executors.try_worker import Health, prepare_to_fork_workers


def _in_a_fork(check: Callable[[], Any]) -> Any:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            os.write(write, json.dumps(check()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        data = answer.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def test_a_worker_that_a_try_left_unchanged_may_run_another() -> None:
    def check() -> Any:
        signal.signal(signal.SIGUSR1, lambda *_: None)  # a Python handler, there before
        health = Health(100)
        return [health.problem(), health.problem()]

    assert _in_a_fork(check) == [None, None]


def test_a_changed_signal_handler_is_seen() -> None:
    def check() -> Any:
        signal.signal(signal.SIGUSR1, lambda *_: None)
        health = Health(100)
        signal.signal(signal.SIGUSR1, lambda *_: None)  # another handler
        changed = health.problem()
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        return changed

    assert _in_a_fork(check) == "the try changed signal handlers or left an alarm set"


def test_a_handler_set_back_to_the_default_is_seen() -> None:
    def check() -> Any:
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        health = Health(100)
        signal.signal(signal.SIGUSR2, signal.SIG_DFL)
        return health.problem()

    assert _in_a_fork(check) == "the try changed signal handlers or left an alarm set"


def test_threads_left_running_and_memory_grown_are_seen() -> None:
    def check() -> Any:
        health = Health(50)
        stop = threading.Event()
        thread = threading.Thread(target=stop.wait)
        thread.start()
        threads = health.problem()
        stop.set()
        thread.join()
        kept = bytearray(80 * 1024 * 1024)  # touched: resident, not only reserved
        grown = health.problem()
        return [threads, grown, len(kept)]

    threads, grown, _ = _in_a_fork(check)
    assert threads == "the try left threads running"
    assert grown.startswith("its memory grew by ") and "more than 50 MB" in grown


@pytest.mark.parametrize("prepared_in_the_zygote", [False, True])
def test_a_module_imported_from_outside_the_libraries_is_seen(
        tmp_path, prepared_in_the_zygote: bool) -> None:
    (tmp_path / "millstream_health_user_code.py").write_text("VALUE = 1\n")

    def check() -> Any:
        import sys

        sys.path.insert(0, str(tmp_path))  # before the first try: not a change it made
        if prepared_in_the_zygote:  # the names of the modules taken before the fork
            prepare_to_fork_workers()
        health = Health(100)
        import colorsys  # noqa: F401 - a library imported on first use is fine

        library = [health.problem(), health.problem()]
        import millstream_health_user_code  # noqa: F401

        return [*library, health.problem()]

    library_first, library_again, user = _in_a_fork(check)
    assert (library_first, library_again) == (None, None)
    assert user.startswith("the try imported module 'millstream_health_user_code' from ")
    assert user.endswith("outside the libraries")


def test_a_module_removed_is_seen_even_when_as_many_were_imported() -> None:
    def check() -> Any:
        import sys

        health = Health(100)
        removed_only = Health(100)
        del sys.modules["json.decoder"]
        seen = removed_only.problem()
        count = len(sys.modules)
        sys.modules["millstream_health_stand_in"] = types.ModuleType("stand_in")
        del sys.modules["json.scanner"]
        assert len(sys.modules) == count  # one in, one out
        return [seen, health.problem()]

    assert _in_a_fork(check) == ["the try removed modules from sys.modules"] * 2
