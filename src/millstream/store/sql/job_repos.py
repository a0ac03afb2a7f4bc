"""The long-running services' heartbeats over SQL (the repo never commits)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from millstream.store.job_records import JobRecord
from millstream.store.sql.common import upsert
from millstream.store.sql.convert import check_aware
from millstream.store.sql.models_jobs import JobRow

JOB_TABLE = cast(Table, JobRow.__table__)
_JOB = JOB_TABLE.c


class SqlJobRepo:
    """One row per (job type, host, pid) in ``job``, holding its latest heartbeat."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def heartbeat(self, job_type: str, hostname: str, pid: int, now: datetime) -> None:
        check_aware(f"{job_type} heartbeat", "now", now)
        self.session.execute(
            upsert(self.session, JOB_TABLE, ["job_type", "hostname", "pid"],
                   ["latest_heartbeat"]),
            [{"job_type": job_type, "hostname": hostname, "pid": pid, "latest_heartbeat": now}],
        )

    def latest(self, job_type: str) -> JobRecord | None:
        row = self.session.execute(
            select(_JOB.job_type, _JOB.hostname, _JOB.pid, _JOB.latest_heartbeat)
            .where(_JOB.job_type == job_type)
            .order_by(_JOB.latest_heartbeat.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return JobRecord(str(row.job_type), str(row.hostname), int(row.pid),
                         row.latest_heartbeat)

    def alive(self, job_type: str, since: datetime) -> list[JobRecord]:
        check_aware(f"{job_type} heartbeats", "since", since)
        rows = self.session.execute(
            select(_JOB.job_type, _JOB.hostname, _JOB.pid, _JOB.latest_heartbeat)
            .where(_JOB.job_type == job_type, _JOB.latest_heartbeat >= since)
            .order_by(_JOB.hostname, _JOB.pid)
        ).all()
        return [JobRecord(str(r.job_type), str(r.hostname), int(r.pid), r.latest_heartbeat)
                for r in rows]
