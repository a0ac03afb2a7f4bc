"""The Celery application shared by the Celery executor (which sends) and workers (which run).

A try travels as one message of the task :data:`RUN_TRY` whose arguments are only its
identifiers: dag id, run id, task id, map index, try number and step id. Everything else
(the run, its conf, the DAG file) the worker reads from the metadata database, so a
message can never carry stale or oversized state, and a message that no longer matches
the database (delivered twice, or after the try was given up) is refused there.

Delivery settings:

- JSON only, no results kept by Celery (outcomes go to the metadata database);
- a message is acknowledged after the try has been recorded (``acks_late``) and each
  worker reserves one message per free process (prefetch 1): a worker that dies loses
  nothing the broker cannot deliver again, and a second delivery is refused;
- running tries are not cancelled when the broker connection drops: their outcomes do
  not travel through the broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from celery import Celery

from millstream.store.records import TaskInstanceKey
from millstream.store.sql.remote_tries import TryRef

RUN_TRY = "millstream.run_try"
"""The Celery task name of one try."""
DEFAULT_QUEUE = "default"
"""The queue of a task that names none (``BaseOperator.queue``'s default)."""


@dataclass(frozen=True, slots=True)
class TryMessage:
    """The identifiers a message carries, in its argument order."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    step_id: str | None

    def args(self) -> list[Any]:
        """The message's arguments (JSON)."""
        return [self.dag_id, self.run_id, self.task_id, self.map_index, self.try_number,
                self.step_id]

    @classmethod
    def from_args(cls, args: list[Any] | tuple[Any, ...]) -> TryMessage:
        """Check and read a message's arguments; ValueError names what is wrong."""
        if len(args) != 6:
            raise ValueError(f"a try message has 6 arguments, this one has {len(args)}")
        dag_id, run_id, task_id, map_index, try_number, step_id = args
        for name, value in (("dag id", dag_id), ("run id", run_id), ("task id", task_id)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"the {name} of a try message must be a non-empty string, "
                                 f"got {value!r}")
        for name, value in (("map index", map_index), ("try number", try_number)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"the {name} of a try message must be an integer, got "
                                 f"{value!r}")
        if step_id is not None and not isinstance(step_id, str):
            raise ValueError(f"the step id of a try message must be a string, got {step_id!r}")
        return cls(dag_id, run_id, task_id, map_index, try_number, step_id)

    @property
    def ref(self) -> TryRef:
        """The try this message names."""
        return TryRef(TaskInstanceKey(self.dag_id, self.run_id, self.task_id, self.map_index),
                      self.try_number, self.step_id)


def make_app(broker_url: str, default_queue: str = DEFAULT_QUEUE) -> Celery:
    """A Celery application for ``broker_url`` configured for millstream's tries."""
    app = Celery("millstream", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=default_queue,
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=False,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        worker_enable_remote_control=False,
        broker_connection_retry=True,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_connection_timeout=5.0,
        broker_heartbeat=10,
        # A try may run for hours: Redis gives an unacknowledged message to another worker
        # only after this long (that delivery is then refused, as the try is not queued).
        broker_transport_options={"visibility_timeout": 12 * 3600},
    )
    return app


__all__ = ["DEFAULT_QUEUE", "RUN_TRY", "TryMessage", "make_app"]
