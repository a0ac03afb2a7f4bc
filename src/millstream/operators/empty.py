"""EmptyOperator: a task that does nothing, for joins and markers."""

from __future__ import annotations

from typing import Any

from millstream.authoring.task import BaseOperator


class EmptyOperator(BaseOperator):
    """Does nothing; useful as a start, end or join point of a DAG."""

    ui_color = "#e8f7e4"

    def execute(self, context: dict[str, Any]) -> None:
        return None
