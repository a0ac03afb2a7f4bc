"""The REST API's routes, one module per resource, gathered into one router."""

from __future__ import annotations

from fastapi import APIRouter


def api_router() -> APIRouter:
    """Every route of ``/api/v1`` (paths relative to it)."""
    from millstream.api.routes import (
        connections,
        dag_runs,
        dags,
        deadline_misses,
        logs,
        pools,
        server,
        task_instances,
        users,
        variables,
    )

    router = APIRouter()
    for module in (server, dags, dag_runs, task_instances, logs, pools, variables,
                   connections, users, deadline_misses):
        router.include_router(module.router)
    return router
