"""Runs counted per DAG and state as they change, so that pages never count history.

The REST API's run list says how many runs match, and the DAG list how many runs each
DAG has in each state; counting them read every run ever kept (100,000 runs: tens of
milliseconds on PostgreSQL). ``dag_run_count`` holds those numbers, kept by the
database itself: triggers on ``dag_run`` add and remove each run as it is inserted,
changes state or DAG, or is deleted, in the same transaction, whatever writes it. A
page then reads one row per DAG and state.

Revision ID: 0012
Revises: 0011
Created: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID_LEN = 250

_ADD = ("INSERT INTO dag_run_count (dag_id, state, runs) VALUES (NEW.dag_id, NEW.state, 1) "
        "ON CONFLICT (dag_id, state) DO UPDATE SET runs = dag_run_count.runs + 1")
_REMOVE = ("UPDATE dag_run_count SET runs = runs - 1 "
           "WHERE dag_id = OLD.dag_id AND state = OLD.state")
_MOVED = "OLD.dag_id <> NEW.dag_id OR OLD.state <> NEW.state"

_SQLITE = [
    f"CREATE TRIGGER dag_run_counted_insert AFTER INSERT ON dag_run BEGIN {_ADD}; END",
    f"CREATE TRIGGER dag_run_counted_update AFTER UPDATE OF dag_id, state ON dag_run "
    f"WHEN {_MOVED} BEGIN {_REMOVE}; {_ADD}; END",
    f"CREATE TRIGGER dag_run_counted_delete AFTER DELETE ON dag_run BEGIN {_REMOVE}; END",
]
_POSTGRES = [
    f"""CREATE OR REPLACE FUNCTION dag_run_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN {_REMOVE}; END IF;
    IF TG_OP <> 'DELETE' THEN {_ADD}; END IF;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER dag_run_counted_insert AFTER INSERT ON dag_run "
    "FOR EACH ROW EXECUTE FUNCTION dag_run_counted()",
    f"CREATE TRIGGER dag_run_counted_update AFTER UPDATE OF dag_id, state ON dag_run "
    f"FOR EACH ROW WHEN ({_MOVED}) EXECUTE FUNCTION dag_run_counted()",
    "CREATE TRIGGER dag_run_counted_delete AFTER DELETE ON dag_run "
    "FOR EACH ROW EXECUTE FUNCTION dag_run_counted()",
]
_TRIGGERS = ("dag_run_counted_insert", "dag_run_counted_update", "dag_run_counted_delete")


def upgrade() -> None:
    op.create_table(
        "dag_run_count",
        sa.Column("dag_id", sa.String(ID_LEN), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("dag_id", "state", name="pk_dag_run_count"),
    )
    op.execute("INSERT INTO dag_run_count (dag_id, state, runs) "
               "SELECT dag_id, state, count(*) FROM dag_run GROUP BY dag_id, state")
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES if postgres else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON dag_run" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS dag_run_counted()")
    op.drop_table("dag_run_count")
