"""Wiring the Celery executor from settings, for the scheduler (`scheduler.executor = "celery"`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from millstream.config import Settings
from millstream.exceptions import InvalidInputError

if TYPE_CHECKING:
    from millstream.executors.celery_executor import CeleryExecutor
    from millstream.scheduler.job import SchedulerJob
    from millstream.store.records import TaskInstanceKey
    from millstream.store.sql.store import SqlStore


def check_celery_database(settings: Settings, who: str = 'scheduler.executor = "celery"'
                          ) -> None:
    """Workers on other machines share the scheduler's database: it must be PostgreSQL."""
    if not settings.database.url.startswith(("postgresql", "postgres")):
        raise InvalidInputError(
            f"{who} needs a PostgreSQL database (database.url), which the scheduler and "
            f"every worker reach; this one is {settings.database.url.split(':', 1)[0]}")


def celery_executor(settings: Settings, store: SqlStore,
                    job: Callable[[], SchedulerJob | None]) -> CeleryExecutor:
    """The scheduler's Celery executor: it sends over the broker of ``[celery]`` and sleeps on
    the database's notifications; ``job()`` gives the scheduler job once it exists (the
    queue of each task is read from its DAG there)."""
    from millstream.executors.celery_app import make_app
    from millstream.executors.celery_executor import CeleryExecutor
    from millstream.model.states import TaskState
    from millstream.store.sql.notify import OutcomeListener

    check_celery_database(settings)
    celery = settings.celery

    def queue_of(key: TaskInstanceKey) -> str | None:
        current = job()
        dag = current.scheduler.dags.get(key.dag_id) if current is not None else None
        task = dag.task_dict.get(key.task_id) if dag is not None else None
        return task.queue if task is not None else None

    def busy_tries() -> set[tuple[TaskInstanceKey, int]]:
        with store.transaction():
            busy = store.task_instances.in_states([TaskState.QUEUED, TaskState.RUNNING])
        return {(ti.key, ti.try_number) for ti in busy}

    return CeleryExecutor(make_app(celery.broker_url, celery.default_queue),
                          settings.scheduler.parallelism,
                          OutcomeListener(settings.database.url), queue_of, busy_tries,
                          default_queue=celery.default_queue)
