"""Fixtures of the triggerer's end-to-end tests: the engine tests' homes (SQLite, PostgreSQL).

The homes, processes and databases are those of ``tests/integration/engine``; this module
loads that folder's fixtures instead of copying them.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_ENGINE_TESTS = Path(__file__).resolve().parents[1] / "engine"
if str(_ENGINE_TESTS) not in sys.path:
    sys.path.insert(0, str(_ENGINE_TESTS))  # engine_helpers

_spec = importlib.util.spec_from_file_location("engine_fixtures", _ENGINE_TESTS / "conftest.py")
assert _spec is not None and _spec.loader is not None
_engine = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_engine)

database_url = _engine.database_url
sqlite_url = _engine.sqlite_url
home = _engine.home
sqlite_home = _engine.sqlite_home
blank_home = _engine.blank_home
