"""The UI's Jinja environment (autoescaped, strict) and the helpers its templates use."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from millstream.ui.markdown import render_markdown
from millstream.ui.states import RUN_LEGEND, STYLES, TASK_LEGEND, state_name, style_of

TEMPLATES = Path(__file__).parent / "templates"

DASH = "\u2013"

SECURITY_HEADERS = {
    # Every script and style comes from /static: no inline code can run in a page.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def format_moment(value: datetime | None, with_seconds: bool = True) -> str:
    """A moment as ``2026-01-01 06:00:00`` in UTC (the page says UTC once), or an en dash."""
    if value is None:
        return DASH
    return value.strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def format_duration(seconds: float | None) -> str:
    """``350 ms``, ``12.4 s``, ``3m 05s``, ``2h 01m``, ``1d 3h``; an en dash for None."""
    if seconds is None:
        return DASH
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def url_part(value: object) -> str:
    """One path segment or query value, percent-encoded."""
    return quote(str(value), safe="")


def query(**params: Any) -> str:
    """``?a=1&b=2`` from the given values, leaving out None (lists repeat their key)."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set):
            pairs.extend((key, str(v)) for v in value)
        else:
            pairs.append((key, str(value)))
    return "?" + urlencode(pairs) if pairs else ""


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    """The one Jinja environment of the UI (templates compiled once, never reloaded)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        moment=format_moment,
        duration=format_duration,
        markdown=render_markdown,
        state=state_name,
        pretty_json=pretty_json,
        urlpart=url_part,
    )
    env.globals.update(
        style_of=style_of,
        between=between,
        query=query,
        TASK_LEGEND=TASK_LEGEND,
        RUN_LEGEND=RUN_LEGEND,
        STYLES=STYLES,
    )
    return env


def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status_code: int = 200) -> HTMLResponse:
    """A page: ``template`` with ``context`` plus ``request`` and the page's common values."""
    values: dict[str, Any] = {"request": request}
    values.update(getattr(request.state, "page_context", {}))
    values.update(context or {})
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


__all__ = ["SECURITY_HEADERS", "TEMPLATES", "environment", "format_duration", "format_moment",
           "query", "render", "url_part"]
