"""A DAG's charts: run and task durations over its last runs, and a calendar of its days."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request

from millstream.api.deps import StoreDep
from millstream.ui.charts import calendar, run_duration_chart, task_duration_chart
from millstream.ui.dagpage import int_param, load_header, utcnow
from millstream.ui.session import PageUser
from millstream.ui.templating import render

router = APIRouter()

RUN_COUNTS = (10, 25, 50, 100)
DEFAULT_RUNS = 25
CALENDAR_WEEKS = 26


@router.get("/dags/{dag_id}/charts", include_in_schema=False)
def charts_page(request: Request, dag_id: str, store: StoreDep, _: PageUser,
                runs: str | None = None) -> Any:
    """Durations over the last ``runs`` runs (25 by default) and half a year of days."""
    count = int_param(runs, DEFAULT_RUNS)
    count = count if count in RUN_COUNTS else DEFAULT_RUNS
    now = utcnow()
    first_day = now.date() - timedelta(weeks=CALENDAR_WEEKS)
    with store.transaction():
        header = load_header(store, dag_id)
        shown = store.browse.latest_runs(dag_id, count)
        instances = store.browse.instances_for_runs(dag_id, [r.run_id for r in shown])
        days = store.overview.daily_run_states(dag_id, datetime.combine(first_day, time(), UTC))
    bars, run_axis = run_duration_chart(shown)
    series, task_axis, xs = task_duration_chart(shown, instances)
    squares, months, calendar_width = calendar(days, now.date(), CALENDAR_WEEKS)
    return render(request, "dag_charts.html", {
        "nav": "dags", "tab": "charts", "header": header, "runs": count,
        "run_counts": RUN_COUNTS, "bars": bars, "run_axis": run_axis, "series": series,
        "task_axis": task_axis, "xs": xs, "squares": squares, "months": months,
        "calendar_width": calendar_width, "weeks": CALENDAR_WEEKS, "chart_width": 900,
        "chart_height": 220,
    })


__all__ = ["router"]
