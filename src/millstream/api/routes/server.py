"""``/health``, ``/version`` and ``/importErrors``: the server and the DAG files' state."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends

import millstream
from millstream.api.auth import Role, User, require_role
from millstream.api.deps import PageDep, SettingsDep, StoreDep, utcnow
from millstream.api.problems import problem_responses
from millstream.api.schemas.misc import (
    ComponentHealth,
    HealthOut,
    ImportErrorCollection,
    ImportErrorOut,
    JobHealth,
    VersionOut,
)
from millstream.store.job_records import JobRecord

log = logging.getLogger("millstream.api")

router = APIRouter(tags=["Server"])

Viewer = Annotated[User, Depends(require_role(Role.VIEWER))]


def job_health(job: JobRecord | None, now: datetime, threshold: timedelta) -> JobHealth:
    """Healthy if the latest heartbeat is at most ``threshold`` old."""
    if job is None:
        return JobHealth(status=None, latest_heartbeat=None)
    healthy = now - job.latest_heartbeat <= threshold
    return JobHealth(status="healthy" if healthy else "unhealthy",
                     latest_heartbeat=job.latest_heartbeat, hostname=job.hostname)


@router.get("/health", response_model=HealthOut, summary="Health of the database, scheduler "
                                                         "and triggerer (no login needed)")
def health(store: StoreDep, settings: SettingsDep) -> HealthOut:
    now = utcnow()
    threshold = timedelta(seconds=settings.webserver.health_check_threshold_s)
    try:
        with store.transaction():
            scheduler = store.jobs.latest("scheduler")
            triggerer = store.jobs.latest("triggerer")
    except Exception:  # a health check reports a broken database, it does not fail with it
        log.exception("health check: the metadata database cannot be read")
        unknown = JobHealth(status="unhealthy", latest_heartbeat=None)
        return HealthOut(metadatabase=ComponentHealth(status="unhealthy"), scheduler=unknown,
                         triggerer=unknown)
    return HealthOut(metadatabase=ComponentHealth(status="healthy"),
                     scheduler=job_health(scheduler, now, threshold),
                     triggerer=job_health(triggerer, now, threshold))


@router.get("/version", response_model=VersionOut, summary="millstream's version (no login "
                                                           "needed)")
def version() -> VersionOut:
    return VersionOut(version=millstream.__version__)


@router.get("/importErrors", response_model=ImportErrorCollection,
            summary="DAG files that fail to load", tags=["DAGs"],
            responses=problem_responses(400, 401, 403, 422))
def list_import_errors(store: StoreDep, page: PageDep, user: Viewer) -> ImportErrorCollection:
    errors = store.import_errors.list()
    return ImportErrorCollection(
        import_errors=[ImportErrorOut(filename=e.filename, timestamp=e.timestamp,
                                      stack_trace=e.traceback) for e in page.slice(errors)],
        total_entries=len(errors))
