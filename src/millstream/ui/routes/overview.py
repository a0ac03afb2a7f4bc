"""The UI's home: what failed and what runs across every DAG in a chosen window, the DAG
files that fail to load, the services' health and the pools' use; every row links to its log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from millstream.api.deps import SettingsDep, StoreDep
from millstream.services.overview import DEFAULT_WINDOW_H, WINDOWS_H, overview
from millstream.ui.dagpage import int_param, utcnow
from millstream.ui.session import PageUser
from millstream.ui.templating import render

router = APIRouter()


@router.get("/", include_in_schema=False)
def home(_: PageUser) -> RedirectResponse:
    return RedirectResponse("/overview", status_code=303)


@router.get("/overview", include_in_schema=False)
def overview_page(request: Request, store: StoreDep, settings: SettingsDep, _: PageUser,
                  hours: str | None = None) -> Any:
    """Failed and running runs and task instances of the last ``hours`` (24 by default)."""
    window = int_param(hours, DEFAULT_WINDOW_H)
    if window not in WINDOWS_H:
        window = DEFAULT_WINDOW_H
    threshold = timedelta(seconds=settings.webserver.health_check_threshold_s)
    facts = overview(store, utcnow(), window, threshold)
    return render(request, "overview.html", {
        "nav": "overview", "tab": "", "o": facts, "windows": WINDOWS_H,
    })


__all__ = ["router"]
