"""Pools of worker slots over SQL, in the ``pool`` table."""

from __future__ import annotations

import builtins
from typing import cast

from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.orm import Session

from millstream.exceptions import ConflictError, InvalidInputError
from millstream.store.memory import DEFAULT_POOL_SLOTS
from millstream.store.sql.common import rowcount, upsert
from millstream.store.sql.models import PoolRow

POOL_TABLE = cast(Table, PoolRow.__table__)
DEFAULT_POOL = "default_pool"
_POOL_SLOTS = select(POOL_TABLE.c.slots).where(POOL_TABLE.c.name == bindparam("k_name"))


class SqlPoolRepo:
    """Pools in the ``pool`` table; ``default_pool`` always exists, as in the memory store."""

    def __init__(self, session: Session, open_pools: bool = False) -> None:
        self.session = session
        self._open = open_pools

    def slots(self, name: str) -> int | None:
        size = self.session.execute(_POOL_SLOTS, {"k_name": name}).scalar()
        if size is not None:
            return int(size)
        return DEFAULT_POOL_SLOTS if self._open or name == DEFAULT_POOL else None

    def set(self, name: str, slots: int, description: str = "") -> None:
        if slots < 0:
            raise InvalidInputError(f"pool {name!r}: slots must be >= 0, got {slots}")
        row = {"name": name, "slots": slots, "description": description}
        self.session.execute(
            upsert(self.session, POOL_TABLE, ["name"], ["slots", "description"]), [row]
        )

    def list(self) -> builtins.list[tuple[str, int, str]]:
        rows = self.session.execute(
            select(POOL_TABLE.c.name, POOL_TABLE.c.slots, POOL_TABLE.c.description).order_by(
                POOL_TABLE.c.name
            )
        )
        pools = [
            (str(name), int(slots), str(description or "")) for name, slots, description in rows
        ]
        if all(name != DEFAULT_POOL for name, _, _ in pools):
            pools.append((DEFAULT_POOL, DEFAULT_POOL_SLOTS, "Default pool"))
            pools.sort()
        return pools

    def delete(self, name: str) -> bool:
        if name == DEFAULT_POOL:
            raise ConflictError(f"the default pool {DEFAULT_POOL!r} cannot be deleted")
        result = self.session.execute(delete(POOL_TABLE).where(POOL_TABLE.c.name == name))
        return rowcount(result) > 0
