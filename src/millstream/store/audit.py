"""Who acts, and the audit record each user action leaves behind."""

from __future__ import annotations

import getpass
import os
from datetime import datetime
from typing import Any

from millstream.store.interfaces import Store
from millstream.store.records import AuditRecord


def current_user() -> str:
    """The operating-system user running this process, for audit records."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


def audit(
    store: Store, event: str, who: str, now: datetime, *, dag_id: str | None = None,
    run_id: str | None = None, task_id: str | None = None, **extra: Any,
) -> None:
    """Add one audit record (in the caller's transaction)."""
    store.audit.add(AuditRecord(now, who, event, dag_id, run_id, task_id, dict(extra)))


def record_action(
    store: Store, event: str, who: str, now: datetime, *, dag_id: str | None = None,
    run_id: str | None = None, task_id: str | None = None, **extra: Any,
) -> None:
    """Record that a user action changed the store: the one place every service reports
    its change, in the action's transaction. The change signal tells the scheduler to
    look again; the audit record only keeps the history."""
    audit(store, event, who, now, dag_id=dag_id, run_id=run_id, task_id=task_id, **extra)
    store.signals.bump()
