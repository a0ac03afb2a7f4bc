"""The missed deadlines page: task SLAs and DAG deadline alerts that passed unmet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from millstream.api.deps import StoreDep
from millstream.ui.dagpage import int_param
from millstream.ui.session import PageUser
from millstream.ui.templating import render

router = APIRouter()

LIMITS = (50, 200, 1000)


@router.get("/deadline-misses", include_in_schema=False)
def deadline_misses_page(request: Request, store: StoreDep, _: PageUser,
                         dag_id: str | None = None, limit: str | None = None) -> Any:
    """The latest misses, newest first, of every DAG or of one."""
    count = int_param(limit, LIMITS[1])
    count = count if count in LIMITS else LIMITS[1]
    with store.transaction():
        misses = store.deadline_misses.latest(count, dag_id=dag_id or None)
    return render(request, "deadline_misses.html", {
        "nav": "deadlines", "misses": misses, "dag_id": dag_id or "", "limit": count,
        "limits": LIMITS,
    })
