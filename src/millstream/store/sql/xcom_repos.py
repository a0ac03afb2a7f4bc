"""XCom values over SQL: the ``xcom`` table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.orm import Session

from millstream.store.records import TaskInstanceKey
from millstream.store.sql.common import by_run_key, by_ti_key, execute, ti_key_params, upsert
from millstream.store.sql.models import XComRow

XCOM_TABLE = cast(Table, XComRow.__table__)
_XCOM_GET = select(XCOM_TABLE.c.value).where(
    by_ti_key(XCOM_TABLE), XCOM_TABLE.c.key == bindparam("k_key")
)
_XCOM_MAPPED = (
    select(XCOM_TABLE.c.value)
    .where(by_run_key(XCOM_TABLE), XCOM_TABLE.c.task_id == bindparam("k_task_id"),
           XCOM_TABLE.c.map_index >= 0, XCOM_TABLE.c.key == bindparam("k_key"))
    .order_by(XCOM_TABLE.c.map_index)
)
_XCOM_CLEAR = delete(XCOM_TABLE).where(by_ti_key(XCOM_TABLE))




class SqlXComRepo:
    """XCom JSON texts in the ``xcom`` table."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def set_many(self, key: TaskInstanceKey, values: Iterable[tuple[str, str]]) -> None:
        latest = dict(values)  # the last value of a repeated key wins
        if not latest:
            return
        rows = [
            {"dag_id": key.dag_id, "run_id": key.run_id, "task_id": key.task_id,
             "map_index": key.map_index, "key": name, "value": text}
            for name, text in latest.items()
        ]
        pk = ["dag_id", "run_id", "task_id", "map_index", "key"]
        execute(self.session, upsert(self.session, XCOM_TABLE, pk, ["value"]), rows)

    def get_xcom(
        self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str
    ) -> str | None:
        params = {"k_dag_id": dag_id, "k_run_id": run_id, "k_task_id": task_id,
                  "k_map_index": map_index, "k_key": key}
        value: str | None = execute(self.session, _XCOM_GET, params).scalar()
        return value

    def get_mapped_xcoms(self, dag_id: str, run_id: str, task_id: str, key: str) -> list[str]:
        params = {"k_dag_id": dag_id, "k_run_id": run_id, "k_task_id": task_id, "k_key": key}
        return list(execute(self.session, _XCOM_MAPPED, params).scalars())

    def clear(self, key: TaskInstanceKey) -> None:
        execute(self.session, _XCOM_CLEAR, ti_key_params(key))

    def entries(self, key: TaskInstanceKey) -> list[tuple[str, str]]:
        rows = execute(self.session,
            select(XCOM_TABLE.c.key, XCOM_TABLE.c.value)
            .where(by_ti_key(XCOM_TABLE)).order_by(XCOM_TABLE.c.key),
            ti_key_params(key),
        )
        return [(str(name), str(value)) for name, value in rows]
