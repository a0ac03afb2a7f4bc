"""The data the tests of the store's direct paths (SQLite's and PostgreSQL's) start from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from millstream.model.states import DagRunState
from millstream.store.records import DagRunRecord, TaskInstanceRecord
from millstream.store.sql import SqlStore

MOMENT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
RUN = {"k_dag_id": "etl", "k_run_id": "manual__1"}
"""The key parameters of the run :func:`store_with_a_run` adds."""


def store_with_a_run(engine: Engine) -> SqlStore:
    """A store on ``engine`` holding a running run of DAG ``etl`` (with a conf) and its
    two instances, ``extract`` and ``load``."""
    store = SqlStore(engine)
    run = DagRunRecord("etl", "manual__1", MOMENT, MOMENT, MOMENT + timedelta(hours=1),
                       state=DagRunState.RUNNING, conf={"region": "eu"})
    with store.transaction():
        store.runs.add(run)
        store.task_instances.add_many([TaskInstanceRecord("etl", run.run_id, name)
                                       for name in ("extract", "load")])
    return store
