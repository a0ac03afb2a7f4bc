"""Shapes of the server's health and version, and of DAG files' import errors."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from millstream.api.schemas.common import Collection

Status = Literal["healthy", "unhealthy"]


class ComponentHealth(BaseModel):
    status: Status


class JobHealth(BaseModel):
    """A service is healthy if one of its processes beat recently; ``status`` is null if
    none ever ran."""

    status: Status | None
    latest_heartbeat: datetime | None
    hostname: str | None = None


class HealthOut(BaseModel):
    metadatabase: ComponentHealth
    scheduler: JobHealth
    triggerer: JobHealth


class VersionOut(BaseModel):
    version: str


class ImportErrorOut(BaseModel):
    """A DAG file that fails to load, and why."""

    filename: str
    timestamp: datetime
    stack_trace: str


class ImportErrorCollection(Collection):
    import_errors: list[ImportErrorOut]
