"""``/pools``: list, read, create, change and delete pools of worker slots."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from millstream.api.auth import Role, User, require_role
from millstream.api.deps import PageDep, StoreDep, utcnow
from millstream.api.problems import Problem, problem_responses
from millstream.api.routes.common import STANDARD_ERRORS
from millstream.api.schemas.pools import PoolCollection, PoolIn, PoolOut, PoolPatch
from millstream.model.states import TaskState
from millstream.services import pools as pool_service
from millstream.store.interfaces import Store

router = APIRouter(tags=["Pools"], responses=problem_responses(*STANDARD_ERRORS))

Viewer = Annotated[User, Depends(require_role(Role.VIEWER))]
Op = Annotated[User, Depends(require_role(Role.OP))]


def _pools(store: Store) -> list[PoolOut]:
    with store.transaction():
        pools = store.pools.list()
        busy = store.task_instances.in_states([TaskState.RUNNING, TaskState.QUEUED])
    taken: dict[tuple[str, TaskState], int] = {}
    for ti in busy:
        taken[(ti.pool, ti.state)] = taken.get((ti.pool, ti.state), 0) + ti.pool_slots
    found = []
    for name, slots, description in pools:
        running = taken.get((name, TaskState.RUNNING), 0)
        queued = taken.get((name, TaskState.QUEUED), 0)
        found.append(PoolOut(name=name, slots=slots, description=description,
                             running_slots=running, queued_slots=queued,
                             open_slots=max(slots - running - queued, 0)))
    return found


def _pool(store: Store, name: str) -> PoolOut:
    for pool in _pools(store):
        if pool.name == name:
            return pool
    raise Problem(404, f"no pool {name!r}")


@router.get("/pools", response_model=PoolCollection, summary="List pools")
def list_pools(store: StoreDep, page: PageDep, user: Viewer) -> PoolCollection:
    pools = _pools(store)
    return PoolCollection(pools=page.slice(pools), total_entries=len(pools))


@router.get("/pools/{pool_name}", response_model=PoolOut, summary="Get a pool")
def get_pool(pool_name: str, store: StoreDep, user: Viewer) -> PoolOut:
    return _pool(store, pool_name)


@router.post("/pools", response_model=PoolOut, summary="Create a pool",
             responses=problem_responses(409))
def create_pool(body: PoolIn, store: StoreDep, user: Op) -> PoolOut:
    if store.pools.slots(body.name) is not None:
        raise Problem(409, f"a pool {body.name!r} already exists (change it with PATCH)")
    pool_service.set_pool(store, body.name, body.slots, user.username, utcnow(),
                          body.description)
    return _pool(store, body.name)


@router.patch("/pools/{pool_name}", response_model=PoolOut, summary="Change a pool",
              responses=problem_responses(409))
def patch_pool(pool_name: str, body: PoolPatch, store: StoreDep, user: Op) -> PoolOut:
    current = _pool(store, pool_name)
    pool_service.set_pool(store, pool_name, current.slots if body.slots is None else body.slots,
                          user.username, utcnow(), body.description)
    return _pool(store, pool_name)


@router.delete("/pools/{pool_name}", status_code=204, response_class=Response,
               summary="Delete a pool", responses=problem_responses(409))
def delete_pool(pool_name: str, store: StoreDep, user: Op) -> Response:
    _pool(store, pool_name)
    pool_service.delete_pool(store, pool_name, user.username, utcnow())
    return Response(status_code=204)
