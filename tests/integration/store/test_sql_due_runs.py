"""The runs of the DAGs due at the same moment are created in a few statements, on SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event

from millstream import DAG, chain
from millstream.operators.empty import EmptyOperator
from millstream.parsing.serialize import DagStructure
from millstream.scheduler.due_runs import create_runs_of_due_dags
from millstream.store.sql import SqlStore

START = datetime(2026, 1, 1, tzinfo=UTC)
NOW = START + timedelta(minutes=30, seconds=5)


def _minutely(dag_id: str) -> DagStructure:
    with DAG(dag_id, start_date=START, schedule="* * * * *", catchup=False) as dag:
        chain(*[EmptyOperator(task_id=f"t{i}") for i in range(3)])
    return DagStructure.from_dag(dag)


def test_a_rounds_statements_do_not_grow_with_its_due_dags(sql_engine: Engine) -> None:
    store = SqlStore(sql_engine)
    sent: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(" ".join(statement.split()[:3]))

    def round_of(dags: dict[str, DagStructure]) -> tuple[int, list[str]]:
        sent.clear()
        event.listen(sql_engine, "before_cursor_execute", capture)
        try:
            with store.transaction():
                done = create_runs_of_due_dags(store, dags, set(), NOW)
        finally:
            event.remove(sql_engine, "before_cursor_execute", capture)
        return done.created, list(sent)

    try:
        every = {f"dag{i:02d}": _minutely(f"dag{i:02d}") for i in range(60)}
        with store.transaction():
            for dag_id, structure in every.items():
                store.dags.upsert(dag_id, None, structure.to_json(), structure.version, START)
        few, few_sent = round_of({d: every[d] for d in ("dag00", "dag01", "dag02")})
        many, many_sent = round_of(every)  # the 57 others: the first three are not due
        assert (few, many) == (3, 57)
        assert many_sent == few_sent
        with store.transaction():
            assert store.dags.due(NOW) == []
            runs = store.runs.list()
            assert len(runs) == 60
            assert all(len(store.task_instances.for_run(run.dag_id, run.run_id)) == 3
                       for run in runs)
    finally:
        store.close()
