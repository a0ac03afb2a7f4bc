"""Pools: create, resize and delete the slot pools that bound how many tasks run at once."""

from __future__ import annotations

from datetime import datetime

from millstream.exceptions import ConflictError, NotFoundError
from millstream.model.identifiers import Identifier, check_identifier
from millstream.model.limits import check_range
from millstream.store.audit import record_action
from millstream.store.interfaces import Store

DEFAULT_POOL = "default_pool"
MAX_POOL_SLOTS = 1_000_000


def set_pool(store: Store, name: str, slots: int, who: str, now: datetime,
             description: str | None = None) -> None:
    """Create a pool or change its size; a description of None keeps the current one."""
    check_identifier(name, Identifier.POOL)
    check_range(slots, f"pool {name!r}: slots", 0, MAX_POOL_SLOTS)
    with store.transaction():
        if description is None:
            current = {n: d for n, _, d in store.pools.list()}
            description = current.get(name, "")
        store.pools.set(name, slots, description)
        record_action(store, "pool_set", who, now, pool=name, slots=slots, description=description)


def delete_pool(store: Store, name: str, who: str, now: datetime) -> None:
    """Remove a pool; ``default_pool`` cannot be removed."""
    if name == DEFAULT_POOL:
        raise ConflictError(f"the default pool {DEFAULT_POOL!r} cannot be deleted")
    with store.transaction():
        if not store.pools.delete(name):
            raise NotFoundError(f"no pool {name!r}")
        record_action(store, "pool_delete", who, now, pool=name)
