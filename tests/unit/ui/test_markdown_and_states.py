"""Sanitized markdown, state colours and summaries, and the formatting helpers of pages."""

from __future__ import annotations

from datetime import UTC, datetime

from millstream.model.states import DagRunState, TaskState
from millstream.ui.markdown import render_markdown
from millstream.ui.states import STYLES, style_of, summary_state
from millstream.ui.templating import format_duration, format_moment, query, url_part


def test_markdown_keeps_formatting_and_drops_anything_active() -> None:
    html = str(render_markdown(
        "## Title\n\n*em* `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
        "[js](javascript:alert(1)) [ok](https://example.com) ![pic](data:text/html,x)"))
    assert "<h2>Title</h2>" in html and "<em>em</em>" in html and "<code>code</code>" in html
    assert "<table>" in html and "<td>1</td>" in html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "onerror" in html  # as text only
    assert 'href="javascript' not in html and 'src="data:' not in html
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">ok</a>' in html
    assert str(render_markdown(None)) == "" and str(render_markdown("")) == ""


def test_every_state_has_a_style_and_the_familiar_colours() -> None:
    for state in [*TaskState, *DagRunState]:
        assert style_of(state).state == state.value
    assert STYLES["success"].colour == "#008000" and STYLES["running"].colour == "#00ff00"
    assert STYLES["failed"].colour == "#ff0000" and STYLES["up_for_retry"].colour == "#ffd700"
    assert style_of("made-up").state == "none" and style_of(None).state == "none"


def test_a_summary_shows_the_most_urgent_state() -> None:
    assert summary_state([]) == "none"
    assert summary_state([TaskState.SUCCESS, TaskState.SUCCESS]) == "success"
    assert summary_state([TaskState.SUCCESS, TaskState.RUNNING]) == "running"
    assert summary_state([TaskState.RUNNING, TaskState.QUEUED]) == "queued"
    assert summary_state([TaskState.SKIPPED, TaskState.SUCCESS]) == "success"
    assert summary_state(["running", "upstream_failed", "failed"]) == "failed"
    assert summary_state([TaskState.SUCCESS, TaskState.NONE]) == "none"


def test_formatting_helpers() -> None:
    assert format_moment(None) == "\u2013"
    assert format_moment(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02 03:04:05"
    assert format_moment(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), False) == "2026-01-02 03:04"
    assert [format_duration(s) for s in (None, 0.25, 12.34, 185, 7300, 90000)] == [
        "\u2013", "250 ms", "12.3 s", "3m 05s", "2h 01m", "1d 1h"]
    assert query() == "" and query(a=None) == ""
    assert query(run_id="manual__2026-01-01T00:00:00+00:00", tags=["a", "b"]) == \
        "?run_id=manual__2026-01-01T00%3A00%3A00%2B00%3A00&tags=a&tags=b"
    assert url_part("a b/c") == "a%20b%2Fc"
