"""The in-memory heartbeats of the long-running services (for tests and dag.test())."""

from __future__ import annotations

from datetime import datetime

from millstream.store.job_records import JobRecord
from millstream.store.memory_journal import Journal, JournaledRepo


class MemoryJobRepo(JournaledRepo):
    """The latest heartbeat of each (job type, host, pid)."""

    STATE = ("_jobs",)

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._jobs: dict[tuple[str, str, int], JobRecord] = {}

    def heartbeat(self, job_type: str, hostname: str, pid: int, now: datetime) -> None:
        self._changing()
        self._jobs[(job_type, hostname, pid)] = JobRecord(job_type, hostname, pid, now)

    def latest(self, job_type: str) -> JobRecord | None:
        found = [job for job in self._jobs.values() if job.job_type == job_type]
        return max(found, key=lambda job: job.latest_heartbeat, default=None)

    def alive(self, job_type: str, since: datetime) -> list[JobRecord]:
        found = [job for job in self._jobs.values()
                 if job.job_type == job_type and job.latest_heartbeat >= since]
        return sorted(found, key=lambda job: (job.hostname, job.pid))
