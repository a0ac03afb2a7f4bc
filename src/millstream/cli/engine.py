"""Wiring the durable engine from settings: store, DAG folder sync, executor, scheduler job."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from millstream import observability
from millstream.config import Settings
from millstream.private_files import make_private_folder

if TYPE_CHECKING:
    from millstream.scheduler.job import SchedulerJob
    from millstream.store.sql.store import SqlStore

log = logging.getLogger("millstream.scheduler")


def open_sql_store(settings: Settings) -> SqlStore:
    """The metadata store of these settings, its schema migrated to the latest version."""
    from millstream.store.sql.engine import ensure_sqlite_file, make_engine
    from millstream.store.sql.migrate import migrate
    from millstream.store.sql.store import SqlStore

    url = settings.database.url
    ensure_sqlite_file(url)
    migrate(url)
    return SqlStore(make_engine(url, **settings.database.engine_kwargs()))


@contextlib.contextmanager
def database_watchdog(settings: Settings, store: SqlStore, component: str) -> Iterator[None]:
    """The watchdog of ``component``'s database connections for the length of the block
    (see :mod:`millstream.store.sql.watchdog`)."""
    from millstream.store.sql.watchdog import watching

    database = settings.database
    with watching(store.engine, component, warn_after_s=database.stall_warning_s,
                  statement_timeout_s=database.statement_timeout_s):
        yield


@contextlib.contextmanager
def scheduler_job(
    settings: Settings, extra_dag_folders: tuple[Path, ...] = (),
    extra_folders_paused: bool | None = None,
) -> Iterator[SchedulerJob]:
    """A ready scheduler job (store, parsing, local executor); everything stops on exit.

    New DAGs start paused per ``core.dags_are_paused_at_creation``; those of the
    ``extra_dag_folders`` per ``extra_folders_paused`` when it is given.
    """
    from millstream.executors.callback_processes import ForkedCallbackRunner
    from millstream.executors.local import LocalExecutor, read_result_file, try_log_path
    from millstream.executors.sql_factories import SqlStoreFactory, SqlXComReaderFactory
    from millstream.parsing.sync import DagFolderSync
    from millstream.scheduler.job import JobTimings, SchedulerJob
    from millstream.store.current import set_store_factory

    url = settings.database.url
    log_folder = Path(settings.logging.base_log_folder)
    make_private_folder(log_folder)
    folders = [Path(settings.core.dags_folder), *extra_dag_folders]
    sched = settings.scheduler
    by_folder: dict[Path, bool] = (
        {} if extra_folders_paused is None
        else dict.fromkeys(extra_dag_folders, extra_folders_paused))
    sync = DagFolderSync(folders, timeout_s=sched.file_parse_timeout_s,
                         memory_mb=sched.file_parse_memory_mb,
                         paused_on_create=settings.core.dags_are_paused_at_creation,
                         paused_on_create_by_folder=by_folder)

    # Tries read variables, connections and other runs here. The factories are plain
    # objects: they reach a fork server started as a fresh interpreter.
    store_factory = SqlStoreFactory(url)
    set_store_factory(store_factory)

    # DAG files are imported in the executor's zygotes under the parser's caps. With the
    # Celery executor, tries run on workers and this one runs the DAG callbacks only.
    on_celery = sched.executor == "celery"
    executor = LocalExecutor(1 if on_celery else sched.parallelism, log_folder,
                             SqlXComReaderFactory(url),
                             dag_import_timeout=sched.file_parse_timeout_s,
                             dag_import_memory_mb=sched.file_parse_memory_mb,
                             tries_per_process=settings.executor.tries_per_process,
                             worker_memory_growth_mb=settings.executor.max_memory_growth_mb,
                             store_factory=store_factory,
                             prefetch=0 if on_celery else
                             sched.parallelism * settings.executor.prefetch_multiplier)
    callbacks = ForkedCallbackRunner(executor)
    timings = JobTimings(
        parse_interval=_seconds(sched.parse_interval_s),
        heartbeat_interval=_seconds(sched.heartbeat_interval_s),
        zombie_timeout=_seconds(sched.zombie_timeout_s),
    )
    observability.configure(settings)  # before the fork server: the tries inherit it
    # A fork server forked from this process (its configuration cannot reach a fresh
    # interpreter) starts now, before any DB connection or thread. A fresh one starts once
    # a DAG that may run is known, or a try or callback needs it: a scheduler whose DAGs
    # are all paused keeps none.
    executor.start(unless_fresh=True)
    store = open_sql_store(settings)
    watchdog = database_watchdog(settings, store, "scheduler")
    watchdog.__enter__()
    job: SchedulerJob | None = None
    remote: Any = None
    try:
        if on_celery:
            from millstream.cli.celery_engine import celery_executor

            remote = celery_executor(settings, store, lambda: job)
            job = SchedulerJob(store, remote, sync, lambda key, try_number: None, callbacks,
                               timings, max_runs_per_tick=sched.max_runs_per_tick)
        else:
            job = SchedulerJob(
                store, executor, sync,
                lambda key, try_number: read_result_file(log_folder, key, try_number),
                callbacks, timings,
                # A try's process creates its log file first thing: then it has started.
                try_started=lambda key, try_number: try_log_path(log_folder, key,
                                                                 try_number).exists(),
                max_runs_per_tick=sched.max_runs_per_tick, dags_to_run=executor.start,
            )
        yield job
    finally:
        if remote is not None:
            remote.stop()
        # Parsing workers are forked and hold a copy of the fork server's input pipe:
        # they go first, so the fork server sees the end of its input and exits.
        sync.close()
        callbacks.close()
        executor.stop()
        if job is not None:
            try:  # the ends of the tries stop() waited for: into the store, not lost
                job.record_final_events()
            except Exception:
                log.exception("could not record the outcomes of the last tries")
            try:  # prefetched and never started: for the dispatcher again, not stranded
                job.give_back(executor.dropped)
            except Exception:
                log.exception("could not give back the queued tries that had not started")
        watchdog.__exit__(None, None, None)
        store.close()


def run_scheduler_until(settings: Settings, predicate: Callable[[], bool]) -> None:
    """Run a scheduler in this process until ``predicate()`` is true (backfill --run-here)."""
    with scheduler_job(settings) as job:
        job.run(until=predicate)


def _seconds(value: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=value)
