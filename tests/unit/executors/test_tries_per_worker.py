"""How many tries each worker runs before it is replaced: the setting, and up to a tenth more."""

from __future__ import annotations

import pytest

from millstream.executors.fork_config import TRIES_PER_PROCESS, tries_for_a_worker


@pytest.mark.parametrize("setting", [1, 3, 9])
def test_a_setting_under_ten_is_kept_exactly(setting: int) -> None:
    assert {tries_for_a_worker(setting) for _ in range(50)} == {setting}


def test_workers_draw_their_own_number_within_a_tenth_more() -> None:
    drawn = [tries_for_a_worker(TRIES_PER_PROCESS) for _ in range(300)]
    assert min(drawn) >= TRIES_PER_PROCESS
    assert max(drawn) <= TRIES_PER_PROCESS + TRIES_PER_PROCESS // 10
    assert len(set(drawn)) > 50  # spread out, not one number for every worker
