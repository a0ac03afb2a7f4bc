"""No module of millstream grows past 500 lines (DESIGN §2b: one responsibility per module)."""

from __future__ import annotations

from pathlib import Path

import millstream

LIMIT = 500
SOURCE = Path(millstream.__file__).parent


def test_every_module_is_at_most_500_lines() -> None:
    modules = sorted(SOURCE.rglob("*.py"))
    assert len(modules) > 50  # the tree was found, not an empty folder
    too_long = {
        str(path.relative_to(SOURCE)): count
        for path in modules
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > LIMIT
    }
    assert too_long == {}, f"split these modules (lines): {too_long}"
