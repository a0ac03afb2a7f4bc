"""The grid's cells as HTML: escaped ids, encoded links, the hover card's facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from millstream.model.states import DagRunState, TaskState
from millstream.store.records import DagRunRecord
from millstream.ui.grid import Grid, GridCell, GridColumn, GridRow
from millstream.ui.grid_html import html_columns, row_cells_html

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_task_row_s_cells_escape_ids_and_encode_links() -> None:
    run = DagRunRecord("d", 'r"<1>+', DAY, DAY, DAY, state=DagRunState.SUCCESS)
    other = DagRunRecord("d", "r2", DAY + timedelta(days=1), DAY, DAY)
    row = GridRow("t&<x>", "task", "t", 0, None, ("t&<x>",))
    cell = GridCell("success", 0, 2, DAY + timedelta(seconds=3), DAY + timedelta(seconds=93))
    grid = Grid([row], [GridColumn(run, 90.0, 10, "01-01 00:00", "r%22%3C1%3E%2B"),
                        GridColumn(other, None, 0, "01-02 00:00", "r2")],
                {(row.id, run.run_id): cell})
    html = row_cells_html(grid, row, "/dags/d", html_columns(grid))
    assert '<a class="cell st-success" data-task-id="t&amp;&lt;x&gt;" ' \
           'data-run-id="r&#34;&lt;1&gt;+" data-state="success"' in html
    assert ' data-try="2" data-dur="1m 30s" data-start="01-01 00:00:03" ' \
           'data-end="01-01 00:01:33"' in html
    assert 'href="/dags/d/task?run_id=r%22%3C1%3E%2B&amp;task_id=t%26%3Cx%3E">2</a>' in html
    # a run the task has no instance in: no state, no card facts
    assert '<a class="cell st-none" data-task-id="t&amp;&lt;x&gt;" data-run-id="r2" ' \
           'data-state="none" href=' in html
    assert "<x>" not in html and '"<' not in html


def test_a_group_row_s_cells_are_not_links() -> None:
    run = DagRunRecord("d", "r1", DAY, DAY, DAY)
    row = GridRow("g", "group", "g", 0, None, ("g.a",))
    grid = Grid([row], [GridColumn(run, None, 0, "01-01 00:00", "r1")],
                {("g", "r1"): GridCell(TaskState.FAILED.value)})
    html = row_cells_html(grid, row, "/dags/d", html_columns(grid))
    assert html == ('<td><span class="cell st-failed" data-group-id="g" data-run-id="r1" '
                    'data-state="failed" title="group g · failed"></span></td>')
