"""Plain records of the long-running services (schedulers, triggerers) and their heartbeats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One service process and the last moment it said it was alive."""

    job_type: str
    hostname: str
    pid: int
    latest_heartbeat: datetime
