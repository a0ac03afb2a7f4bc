"""The trigger runner: every trigger a coroutine on one asyncio event loop in its own thread.

The runner knows nothing of the store. Its owner (the triggerer job, or dag.test) says
which triggers should run (:meth:`TriggerRunner.update`) and collects how they ended
(:meth:`TriggerRunner.drain`): the first event of each, or its error. A trigger that
raises ends only itself; the loop and every other trigger go on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from millstream.triggerer.base import BaseTrigger, TriggerEvent, load_trigger
from millstream.triggerer.outcomes import TriggerOutcome

if TYPE_CHECKING:
    from millstream.store.trigger_records import TriggerRecord

log = logging.getLogger("millstream.triggerer")

LAG_WARNING_S = 0.5
"""A loop late by more than this has a trigger that blocks it (a sync call in run())."""


class TriggerRunner:
    """Runs triggers concurrently on an event loop in a background thread.

    Thread-safe for its owner: :meth:`update`, :meth:`drain`, :meth:`wait` and
    :meth:`running` may be called from any one other thread.
    """

    def __init__(self, build: Callable[[TriggerRecord], BaseTrigger] | None = None) -> None:
        self._build = build or (lambda record: load_trigger(record.classpath, record.kwargs))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._running: set[int] = set()  # started, no outcome yet
        self._ended: set[int] = set()  # outcome reported; not started again while wanted
        self._outcomes: list[TriggerOutcome] = []
        self._ready = threading.Event()
        self._tasks: dict[int, asyncio.Task[None]] = {}  # only touched on the loop's thread
        self._lag_watch: asyncio.Task[None] | None = None
        self._began: set[int] = set()  # triggers whose watch has taken its first step
        self._cleanups: set[asyncio.Future[None]] = set()

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start the event loop's thread."""
        if self._thread is not None:
            return
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            self._lag_watch = loop.create_task(self._watch_lag())
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="millstream-triggers", daemon=True)
        self._thread.start()
        started.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel every trigger (each one's cleanup runs) and end the loop's thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._cancel_all(), loop)
        try:
            future.result(timeout)
        except Exception:  # a cleanup that hangs must not keep the process alive
            log.warning("triggers did not stop within %s s", timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._loop = self._thread = None
        with self._lock:
            self._running.clear()

    # -- the owner's side --------------------------------------------------------------------
    def update(self, wanted: Mapping[int, TriggerRecord]) -> None:
        """Run exactly the ``wanted`` triggers: start the new ones, cancel the others.

        A trigger that cannot be built (bad import path or kwargs) ends at once with
        its error as its outcome.
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("the trigger runner is not started")
        with self._lock:
            self._ended &= wanted.keys()  # settled: forget them
            cancel = self._running - wanted.keys()
            self._running -= cancel
            new_ids = [i for i in wanted if i not in self._running and i not in self._ended]
        start: dict[int, BaseTrigger] = {}
        for trigger_id in new_ids:
            record = wanted[trigger_id]
            try:
                trigger = self._build(record)
                trigger.trigger_id = trigger_id
            except Exception as exc:
                log.error("cannot build trigger %d (%s): %s", trigger_id, record.classpath, exc)
                self._report(TriggerOutcome(
                    trigger_id, error=f"cannot build {record.classpath}: "
                                      f"{type(exc).__name__}: {exc}",
                    traceback=_trace(exc),
                ), running=False)
                continue
            start[trigger_id] = trigger
        with self._lock:
            self._running |= start.keys()
        if start or cancel:
            loop.call_soon_threadsafe(self._apply, start, cancel)

    def drain(self) -> list[TriggerOutcome]:
        """The outcomes since the last call, oldest first."""
        with self._lock:
            outcomes, self._outcomes = self._outcomes, []
            self._ready.clear()
        return outcomes

    def requeue(self, outcomes: list[TriggerOutcome]) -> None:
        """Put back outcomes the owner could not record, to be drained again."""
        with self._lock:
            self._outcomes[:0] = outcomes
            if self._outcomes:
                self._ready.set()

    def wait(self, timeout: float) -> bool:
        """Block until an outcome is ready or ``timeout`` seconds pass."""
        return self._ready.wait(timeout)

    def running(self) -> set[int]:
        """Ids of the triggers running now."""
        with self._lock:
            return set(self._running)

    # -- the loop's side ---------------------------------------------------------------------
    def _apply(self, start: dict[int, BaseTrigger], cancel: set[int]) -> None:
        assert self._loop is not None
        for trigger_id in cancel:
            task = self._tasks.pop(trigger_id, None)
            if task is not None:
                task.cancel()
        for trigger_id, trigger in start.items():
            task = self._loop.create_task(
                self._watch(trigger_id, trigger), name=f"trigger-{trigger_id}"
            )
            task.add_done_callback(functools.partial(self._after, trigger_id, trigger))
            self._tasks[trigger_id] = task

    def _after(self, trigger_id: int, trigger: BaseTrigger, task: asyncio.Task[None]) -> None:
        """A trigger cancelled before its first step never ran its own cleanup: run it."""
        if task.cancelled() and trigger_id not in self._began:
            cleanup = asyncio.ensure_future(_close(trigger_id, None, trigger))
            self._cleanups.add(cleanup)
            cleanup.add_done_callback(self._cleanups.discard)
        self._began.discard(trigger_id)

    async def _watch(self, trigger_id: int, trigger: BaseTrigger) -> None:
        self._began.add(trigger_id)
        try:
            outcome = await watch_trigger(trigger_id, trigger)
        finally:
            if self._tasks.get(trigger_id) is asyncio.current_task():
                del self._tasks[trigger_id]
        self._report(outcome)

    async def _cancel_all(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        if self._lag_watch is not None:
            tasks.append(self._lag_watch)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*self._cleanups, return_exceptions=True)

    async def _watch_lag(self) -> None:
        interval = 0.25
        while True:
            before = time.monotonic()
            await asyncio.sleep(interval)
            late = time.monotonic() - before - interval
            if late > LAG_WARNING_S:
                log.warning("the trigger loop was blocked for %.2f s: a trigger makes a "
                            "blocking call in run()", late)

    def _report(self, outcome: TriggerOutcome, running: bool = True) -> None:
        with self._lock:
            if running and outcome.trigger_id not in self._running:
                return  # cancelled meanwhile: nobody waits for it any more
            self._running.discard(outcome.trigger_id)
            self._ended.add(outcome.trigger_id)
            self._outcomes.append(outcome)
            self._ready.set()


async def watch_trigger(trigger_id: int, trigger: BaseTrigger) -> TriggerOutcome:
    """Await the trigger's first event; its outcome is that event's payload or the error.

    The trigger's generator is closed and its cleanup awaited however it ends (also when
    cancelled, which propagates).
    """
    events = trigger.run()
    try:
        event = await anext(events, None)
        if event is None:
            return TriggerOutcome(trigger_id, error=f"{trigger!r} ended without an event")
        if not isinstance(event, TriggerEvent):
            return TriggerOutcome(
                trigger_id, error=f"{trigger!r} yielded {event!r}, not a TriggerEvent"
            )
        return TriggerOutcome(trigger_id, payload=event.payload)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # one trigger's failure ends that trigger only
        log.warning("trigger %d (%r) failed: %s: %s", trigger_id, trigger,
                    type(exc).__name__, exc)
        return TriggerOutcome(trigger_id, error=f"{type(exc).__name__}: {exc}",
                              traceback=_trace(exc))
    finally:
        await _close(trigger_id, events, trigger)


async def _close(trigger_id: int, events: object | None, trigger: BaseTrigger) -> None:
    """Close the trigger's generator and await its cleanup; errors there are only logged."""
    try:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    except Exception:
        log.exception("closing trigger %d failed", trigger_id)
    try:
        await trigger.cleanup()
    except Exception:
        log.exception("cleanup of trigger %d failed", trigger_id)


def _trace(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)).rstrip()
