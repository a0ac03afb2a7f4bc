"""Task logs that live on a Celery worker: fetched from its log server when not found here.

A try run by ``millstream worker`` writes its log on the worker's machine; the worker
serves its log folder (:mod:`millstream.runtime.log_serving`). The API and the UI read
a try's log from the local log folder when it is there (one machine, or a shared
folder), and otherwise from the worker recorded as the instance's hostname, provided
``[celery] log_server_secret`` is set here as on the workers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from millstream.config import Settings
from millstream.runtime.log_serving import LogServerError, RemoteLogPiece, fetch_log
from millstream.store.records import TaskInstanceRecord

log = logging.getLogger("millstream.api.logs")


@dataclass(frozen=True, slots=True)
class RemoteLogs:
    """How to reach the workers' log servers (their port and the shared secret)."""

    port: int
    secret: str

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteLogs | None:
        """None when no secret is set: then only local logs are shown."""
        secret = settings.celery.log_server_secret
        if secret is None:
            return None
        return cls(settings.celery.log_server_port, secret.get_secret_value())

    def piece(self, ti: TaskInstanceRecord, try_number: int, offset: int,
              size: int) -> RemoteLogPiece | None:
        """Bytes of the try's log from its worker; None if no worker has it (or is reached)."""
        if not ti.hostname:
            return None
        try:
            return fetch_log(ti.hostname, self.port, self.secret, ti.key, try_number, offset,
                             size)
        except LogServerError as exc:
            log.warning("%s", exc)
            return None


__all__ = ["RemoteLogs"]
