"""A try keeps task code's figures so far in a file, so that a kill loses only its last
moment's; the file goes when the try ends and reports them itself."""

from __future__ import annotations

import json
from pathlib import Path

from millstream.metrics import counter
from millstream.observability import user_metrics


def test_figures_are_kept_on_disk_as_they_come_and_taken_once(tmp_path: Path) -> None:
    path = tmp_path / "1.metrics.json"
    user_metrics.spill_to(path)
    user_metrics.start_try({"dag": "d", "task": "t", "run_type": "manual"})
    try:
        counter("spilled_rows", 5)
        kept = json.loads(path.read_text())
        counter("spilled_rows", 2)  # within SPILL_INTERVAL_S: not rewritten yet
        assert json.loads(path.read_text()) == kept
    finally:
        user_metrics.spill_to(None)
    # What a killed try leaves: the executor takes it for the outcome it reports.
    samples = [json.loads(text) for text in user_metrics.take_spilled(path)]
    assert samples == [{"kind": "counter", "name": "millstream_spilled_rows", "value": 5.0,
                        "labels": {"dag": "d", "task": "t", "run_type": "manual"}}]
    assert not path.exists() and user_metrics.take_spilled(path) == ()
    # A try that ends normally carries them in its outcome and removes the file.
    counter("spilled_rows", 1)
    path.write_text("[]")
    assert len(user_metrics.end_try()) == 1
    assert not path.exists()


def test_a_file_that_is_not_a_list_of_figures_gives_none(tmp_path: Path) -> None:
    path = tmp_path / "1.metrics.json"
    path.write_text("{not json")
    assert user_metrics.take_spilled(path) == ()
    path.write_text('{"a": 1}')
    assert user_metrics.take_spilled(path) == ()
