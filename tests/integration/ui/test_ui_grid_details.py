"""The grid's cells and run headers, and the details panel a click opens beside the grid."""

from __future__ import annotations

import re

from millstream.runtime.worker import try_log_path
from millstream.store.records import TaskInstanceKey
from tests.integration.ui.conftest import Seeded
from tests.integration.ui.ui_helpers import UiEnv, run_query


def test_cells_carry_their_try_and_times_and_headers_their_run_type(ui: UiEnv,
                                                                       seeded: Seeded) -> None:
    page = ui.get("viewer", "/dags/ui_failing/grid").text
    cell = re.search(r'<a class="cell st-failed" data-task-id="explode"[^>]*>', page)
    assert cell is not None
    assert 'data-try="1"' in cell.group(0)
    assert re.search(r'data-start="\d\d-\d\d \d\d:\d\d:\d\d"', cell.group(0))
    assert re.search(r'data-dur="[^"]+"', cell.group(0))
    head = re.search(r'<a href="[^"]+" class="run-head-link" data-run-id="([^"]+)"[^>]*>'
                     r'<span class="run-type rt-M" title="manual">M</span>', page)
    assert head is not None
    assert 'class="axis-tick at-10"' in page  # the duration axis
    assert 'id="details-panel" aria-label="Details" hidden' in page


def test_a_task_cell_s_details_show_its_try_log_excerpt_and_actions(ui: UiEnv,
                                                                    seeded: Seeded) -> None:
    key = TaskInstanceKey("ui_failing", seeded.failed_run, "explode", -1)
    path = try_log_path(ui.log_folder, key, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"line {n}\n" for n in range(100)] + ["RuntimeError: the warehouse is on fire\n"]
    path.write_text("".join(lines), encoding="utf-8")
    query = run_query(seeded.failed_run, task_id="explode")
    panel = ui.get("op", f"/dags/ui_failing/grid/details?{query}").text
    assert 'id="details-task">explode<' in panel
    assert 'id="details-state" data-state="failed"' in panel
    assert re.search(r'id="details-try">1\b', panel)
    assert "the warehouse is on fire" in panel  # the error, and the log's end
    log = re.search(r'<pre class="log log-excerpt" id="details-log">(.*?)</pre>', panel, re.S)
    assert log is not None and "RuntimeError" in log.group(1)
    # the end of the log: its last 40 lines
    assert log.group(1).startswith("line 61\n") and "line 60\n" not in log.group(1)
    assert "/dags/ui_failing/clear?" in panel and "state=failed" in panel
    # a viewer sees the same facts, without the actions
    viewer = ui.get("viewer", f"/dags/ui_failing/grid/details?{query}").text
    assert "the warehouse is on fire" in viewer and "/dags/ui_failing/clear?" not in viewer


def test_a_run_header_s_details_count_its_task_states(ui: UiEnv, seeded: Seeded) -> None:
    panel = ui.get("op", f"/dags/ui_failing/grid/details?{run_query(seeded.failed_run)}").text
    assert f"Run <span class=\"mono small\">{seeded.failed_run}</span>" in panel
    counts = re.findall(r'data-state="(\w+)">[^<]+</span> (\d+)', panel)
    assert ("failed", "1") in counts and ("success", "1") in counts \
        and ("upstream_failed", "1") in counts
    assert "only_failed=1" in panel


def test_a_mapped_task_s_details_list_its_instances(ui: UiEnv, seeded: Seeded) -> None:
    query = run_query(seeded.etl_runs[0], task_id="square")
    panel = ui.get("viewer", f"/dags/ui_etl/grid/details?{query}").text
    assert 'id="details-mapped"' in panel
    assert len(re.findall(r"map_index=\d", panel)) == 3


def test_the_grid_opens_with_the_panel_an_address_names(ui: UiEnv, seeded: Seeded) -> None:
    query = run_query(seeded.failed_run, task_id="explode")
    page = ui.get("viewer", f"/dags/ui_failing/grid?{query}").text
    assert 'class="grid-layout with-details"' in page
    assert 'id="details-task">explode<' in page
    assert 'aria-label="Details" hidden' not in page


def test_details_of_an_unknown_task_or_run_are_a_404(ui: UiEnv, seeded: Seeded) -> None:
    query = run_query(seeded.failed_run, task_id="nope")
    assert ui.get("viewer", f"/dags/ui_failing/grid/details?{query}").status_code == 404
    assert ui.get("viewer", "/dags/ui_failing/grid/details?run_id=nope").status_code == 404
    assert ui.get("viewer", "/dags/ui_failing/grid/details").status_code == 400
