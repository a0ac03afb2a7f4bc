"""Pausing: stop (or resume) a DAG's scheduled runs and the start of its queued ones."""

from __future__ import annotations

from datetime import datetime

from millstream.services.common import require_dag
from millstream.store.audit import record_action
from millstream.store.interfaces import Store


def set_paused(store: Store, dag_id: str, paused: bool, who: str, now: datetime) -> bool:
    """Pause or unpause a DAG; returns False (and records nothing) if it already was so."""
    with store.transaction():
        record = require_dag(store, dag_id)
        if record.is_paused == paused:
            return False
        store.dags.set_paused(dag_id, paused)
        record_action(store, "pause" if paused else "unpause", who, now, dag_id=dag_id)
    return True
