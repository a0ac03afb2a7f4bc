"""The DAG list: search, tag and status filters, paging, recent runs, next run, pause toggle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse

from millstream.api.deps import StoreDep
from millstream.model.states import DagRunState
from millstream.scheduler.runs import last_scheduled_intervals
from millstream.services.pause import set_paused
from millstream.store.records import DagRecord, DagRunRecord
from millstream.ui.catalog import CATALOG, DagSummary
from millstream.ui.dagpage import int_param, utcnow
from millstream.ui.errors import PageError
from millstream.ui.session import CsrfChecked, OpUser, PageUser, safe_next, username
from millstream.ui.templating import render

router = APIRouter()

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50
RECENT_RUNS = 10
STATUSES = ("all", "active", "paused")
COUNTED = (DagRunState.SUCCESS, DagRunState.RUNNING, DagRunState.FAILED, DagRunState.QUEUED)


@dataclass(frozen=True, slots=True)
class DagRow:
    """One row of the DAG list."""

    record: DagRecord
    summary: DagSummary
    recent: list[DagRunRecord]
    counts: dict[DagRunState, int]
    next_run: tuple[datetime, datetime] | None

    @property
    def last_run(self) -> DagRunRecord | None:
        return self.recent[0] if self.recent else None


@router.get("/dags", include_in_schema=False)
def dag_list(
    request: Request,
    store: StoreDep,
    _: PageUser,
    search: str = "",
    tags: Annotated[list[str] | None, Query()] = None,
    status: str = "all",
    page: str | None = None,
    page_size: str | None = None,
) -> Any:
    """Every active DAG, filtered and paged; each row costs no query of its own."""
    search = search.strip()
    wanted_tags = sorted({t for t in tags or [] if t})
    status = status if status in STATUSES else "all"
    size = int_param(page_size, DEFAULT_PAGE_SIZE)
    size = size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE
    with store.transaction():
        records = store.dags.list()
        summaries = CATALOG.summaries(store, records)
        import_errors = store.import_errors.list()
        all_tags = sorted({t for s in summaries.values() for t in s.tags})
        counts = {"all": 0, "active": 0, "paused": 0}
        chosen: list[tuple[DagRecord, DagSummary]] = []
        for record in records:
            summary = summaries.get(record.dag_id)
            if summary is None or not summary.matches(search, wanted_tags):
                continue
            counts["all"] += 1
            counts["paused" if record.is_paused else "active"] += 1
            if status == "all" or (status == "paused") == record.is_paused:
                chosen.append((record, summary))
        pages = max(1, -(-len(chosen) // size))
        number = int_param(page, 1, 1, pages)
        shown = chosen[(number - 1) * size: number * size]
        ids = [record.dag_id for record, _ in shown]
        recent = store.browse.latest_runs_per_dag(ids, RECENT_RUNS)
        state_counts = store.browse.run_state_counts(ids)
        resume_points = last_scheduled_intervals(store, ids)
    now = utcnow()
    rows = [
        DagRow(record, summary, recent.get(record.dag_id, []),
               state_counts.get(record.dag_id, {}),
               CATALOG.next_run(summary.structure, resume_points.get(record.dag_id), now))
        for record, summary in shown
    ]
    return render(request, "dag_list.html", {
        "nav": "dags",
        "rows": rows,
        "search": search,
        "tags": wanted_tags,
        "all_tags": all_tags,
        "status": status,
        "status_counts": counts,
        "page": number,
        "pages": pages,
        "page_size": size,
        "page_sizes": PAGE_SIZES,
        "total": len(chosen),
        "import_errors": import_errors,
        "counted": COUNTED,
    })


@router.post("/dags/{dag_id}/pause", include_in_schema=False)
def toggle_pause(
    dag_id: str,
    paused: Annotated[str, Form()],
    store: StoreDep,
    user: OpUser,
    _csrf: CsrfChecked,
    next_url: Annotated[str, Form(alias="next")] = "/dags",
) -> RedirectResponse:
    """Pause (``paused=true``) or unpause a DAG, then go back where the form was."""
    if paused not in ("true", "false"):
        raise PageError(400, f"paused must be true or false, not {paused!r}")
    set_paused(store, dag_id, paused == "true", username(user), utcnow())
    return RedirectResponse(safe_next(next_url), status_code=303)


__all__ = ["router"]
