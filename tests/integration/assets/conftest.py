"""Fixtures of the asset tests: the engine tests' millstream homes (SQLite and PostgreSQL).

The engine tests' helpers and fixtures are reused as they are: their folder is put on the
import path, and their conftest is loaded under a name of its own.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ENGINE_TESTS = Path(__file__).resolve().parent.parent / "engine"
if str(ENGINE_TESTS) not in sys.path:
    sys.path.insert(0, str(ENGINE_TESTS))

_spec = importlib.util.spec_from_file_location("engine_test_fixtures",
                                               ENGINE_TESTS / "conftest.py")
assert _spec is not None and _spec.loader is not None
_engine = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_engine)

database_url = _engine.database_url
home = _engine.home
