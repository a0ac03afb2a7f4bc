"""The UI's pages, one module per area; ``routers()`` lists them in mounting order."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from millstream.ui.routes import (
        actions,
        admin,
        admin_secrets,
        charts,
        dag_info,
        dag_list,
        dag_views,
        grid_views,
        live,
        login,
        overview,
        task_views,
    )

    return [login.router, overview.router, dag_list.router, grid_views.router,
            dag_views.router, charts.router, dag_info.router, task_views.router,
            actions.router, live.router, admin.router, admin_secrets.router]
