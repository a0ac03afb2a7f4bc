"""The resume point of each DAG's schedule: its scheduled run with the latest logical date.

One statement of a fixed shape (it compiles once, whatever the number of DAGs asked
about): for each DAG, driven by the dag table's key, a correlated subquery that reads the
last entry of ``ix_dag_run_resume`` (dag_id, run_type, logical_date). Its cost is per DAG
asked about, never per run in a DAG's history.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from millstream.store.records import SCHEDULED_RUN
from millstream.store.sql.convert import DAG_TABLE, RUN_COLUMNS, RUN_TABLE

_RESUME = RUN_TABLE.alias("resume")
_ASKED = (  # one row per DAG asked about: the dag table's, looked up by its key
    select(DAG_TABLE.c.dag_id.label("dag_id"))
    .where(DAG_TABLE.c.dag_id.in_(bindparam("dag_ids", expanding=True)))
    .subquery("asked")
)
_LATEST = (  # the index is in logical-date order: the last entry is the one wanted
    select(_RESUME.c.logical_date)
    .where(_RESUME.c.dag_id == _ASKED.c.dag_id, _RESUME.c.run_type == SCHEDULED_RUN)
    .order_by(_RESUME.c.logical_date.desc())
    .limit(1)
    .scalar_subquery()
)
_LATEST_PER_DAG = select(_ASKED.c.dag_id, _LATEST.label("latest")).subquery("latest_per_dag")
_LATEST_RUN = (RUN_TABLE.c.dag_id == _LATEST_PER_DAG.c.dag_id) & (
    RUN_TABLE.c.logical_date == _LATEST_PER_DAG.c.latest)
LATEST_SCHEDULED = select(*RUN_COLUMNS).join_from(RUN_TABLE, _LATEST_PER_DAG, _LATEST_RUN)
"""Each asked DAG's scheduled run with the latest logical date (see latest_scheduled)."""


__all__ = ["LATEST_SCHEDULED"]
