"""The in-memory store's answer to "where does each DAG's schedule resume?"."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from millstream.store.records import SCHEDULED_RUN, DagRunRecord


def latest_scheduled_runs(
    runs: Iterable[DagRunRecord], dag_ids: Collection[str]
) -> dict[str, DagRunRecord]:
    """Each of ``dag_ids``' scheduled run with the latest logical date (DAGs with none are
    left out). Memory holds no index, so this scans; the SQL store seeks an index."""
    wanted = set(dag_ids)
    latest: dict[str, DagRunRecord] = {}
    for run in runs:
        if run.dag_id not in wanted or run.run_type != SCHEDULED_RUN:
            continue
        best = latest.get(run.dag_id)
        if best is None or run.logical_date > best.logical_date:
            latest[run.dag_id] = run
    return latest
