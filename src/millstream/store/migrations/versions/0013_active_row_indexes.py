"""A DAG's active runs and a run's unfinished instances indexed apart from the history.

``ix_dag_run_dag_state`` (dag_id, state) and ``ix_task_instance_run_state`` (dag_id,
run_id, state) held every run and instance ever kept, though they are read only for the
active ones. Both lead with the DAG, so each run a round creates, and each state it
changes, wrote a page of them per DAG: with 1,000,000 instances of history a round of
1,000 new runs wrote 11,700 pages of the database where a nearly empty one wrote 1,600,
and the first tick that started them 3,500 pages where it wrote 800. Their replacements
are partial indexes of the active rows alone (queued and running runs; instances not
finished), which stay as small as the work in flight. ``ix_dag_run_active`` also orders
a DAG's active runs by logical date, as the scheduler reads them.

A statement uses them only if its WHERE clause has their condition, as written here
(``store/sql/active_rows.py`` writes it into the statements; the tests of the plans in
``tests/integration/store/test_active_row_indexes.py`` fail if the two part).

Revision ID: 0013
Revises: 0012
Created: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The states two at a time (see store/sql/active_rows.py): SQLite would build a table of a
# longer list each time it evaluates the condition, and an equality would make it prepare
# a statement with ``state = ?`` again for each new value bound.
ACTIVE_RUN = "state IN ('queued', 'running')"
UNFINISHED_INSTANCE = ("state IN ('deferred', 'none') OR state IN ('queued', 'running') OR "
                       "state IN ('scheduled', 'up_for_reschedule') OR "
                       "state IN ('up_for_retry', 'up_for_retry')")


def _create_partial(name: str, table: str, columns: list[str], condition: str) -> None:
    op.create_index(name, table, columns, sqlite_where=sa.text(condition),
                    postgresql_where=sa.text(condition))


def upgrade() -> None:
    op.drop_index("ix_dag_run_dag_state", table_name="dag_run")
    _create_partial("ix_dag_run_active", "dag_run", ["dag_id", "logical_date", "state"],
                    ACTIVE_RUN)
    op.drop_index("ix_task_instance_run_state", table_name="task_instance")
    _create_partial("ix_task_instance_unfinished", "task_instance",
                    ["dag_id", "run_id", "state"], UNFINISHED_INSTANCE)


def downgrade() -> None:
    op.drop_index("ix_task_instance_unfinished", table_name="task_instance")
    op.create_index("ix_task_instance_run_state", "task_instance", ["dag_id", "run_id", "state"])
    op.drop_index("ix_dag_run_active", table_name="dag_run")
    op.create_index("ix_dag_run_dag_state", "dag_run", ["dag_id", "state"])
