"""The SQL store: the repository interfaces over SQLAlchemy (SQLite or PostgreSQL)."""

from millstream.exceptions import StaleRecordError
from millstream.store.sql import (  # noqa: F401  (their tables)
    models_assets,
    models_auth,
    models_jobs,
    models_secrets,
    models_triggers,
)
from millstream.store.sql.engine import make_engine
from millstream.store.sql.store import SqlStore

__all__ = ["SqlStore", "StaleRecordError", "make_engine"]
