"""The grid's cells as HTML, made here rather than in the template: a DAG of 1,000 tasks
with 25 runs has 25,000 cells, and a template spends a dozen calls on each.

Each row's and each column's escaped values are made once; a cell only joins them.
"""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup, escape

from millstream.ui.grid import Grid, GridRow
from millstream.ui.templating import format_duration


def _moment(value: datetime) -> str:
    """``12-05 06:00:03`` (as ``short_moment``), from ``isoformat``: much quicker than
    ``strftime`` over 25,000 cells."""
    return value.isoformat(" ")[5:19]


def _attr(value: object) -> str:
    return str(escape(str(value)))


def row_cells_html(grid: Grid, row: GridRow, base: str,
                   columns: list[tuple[str, str]]) -> Markup:
    """The ``<td>`` cells of one row, oldest run first, as the page shows them;
    ``columns`` is :func:`html_columns` of the grid."""
    row_id = _attr(row.id)
    parts: list[str] = []
    if row.kind != "task":
        for (run_id, _), (_, cell) in zip(columns, grid.row_cells(row), strict=True):
            parts.append(
                f'<td><span class="cell st-{cell.state}" data-group-id="{row_id}" '
                f'data-run-id="{run_id}" data-state="{cell.state}" '
                f'title="group {row_id} · {cell.state}"></span></td>')
        return Markup("".join(parts))
    mapped = " mapped" if row.is_mapped else ""
    href_task = f"&amp;task_id={_attr(row.q)}"
    base_href = _attr(base)
    for (run_id, run_q), (_, cell) in zip(columns, grid.row_cells(row), strict=True):
        facts = ""
        if cell.try_number:
            start = _moment(cell.start) if cell.start else ""
            end = _moment(cell.end) if cell.end else ""
            facts = (f' data-try="{cell.try_number}" data-dur="{format_duration(cell.duration)}"'
                     f' data-start="{start}" data-end="{end}"')
        if cell.count:
            facts += f' data-count="{cell.count}"'
        text = str(cell.try_number) if cell.try_number > 1 else ""
        parts.append(
            f'<td><a class="cell st-{cell.state}{mapped}" data-task-id="{row_id}" '
            f'data-run-id="{run_id}" data-state="{cell.state}"{facts} '
            f'href="{base_href}/task?run_id={run_q}{href_task}">{text}</a></td>')
    return Markup("".join(parts))


def html_columns(grid: Grid) -> list[tuple[str, str]]:
    """Each column's run id, escaped for an attribute and percent-encoded for a link."""
    return [(_attr(col.run.run_id), _attr(col.q)) for col in grid.columns]


__all__ = ["html_columns", "row_cells_html"]
