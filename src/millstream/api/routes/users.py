"""``/users`` (admin only) and ``/auth/me``: the web server's users and who is asking."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from millstream.api import accounts
from millstream.api.auth import Role, User, require_role
from millstream.api.deps import PageDep, StoreDep, utcnow
from millstream.api.problems import Problem, problem_responses
from millstream.api.routes.common import STANDARD_ERRORS
from millstream.api.schemas.users import UserCollection, UserIn, UserOut, UserPatch
from millstream.store.auth_records import UserRecord
from millstream.store.interfaces import Store

router = APIRouter(tags=["Users"], responses=problem_responses(*STANDARD_ERRORS))

Viewer = Annotated[User, Depends(require_role(Role.VIEWER))]
Admin = Annotated[User, Depends(require_role(Role.ADMIN))]


def user_out(record: UserRecord) -> UserOut:
    return UserOut(username=record.username, role=Role(record.role), email=record.email,
                   created_at=record.created_at, last_login=record.last_login)


def _find(store: Store, username: str) -> UserRecord:
    record = store.users.get(username)
    if record is None:
        raise Problem(404, f"no user {username!r}")
    return record


@router.get("/auth/me", response_model=UserOut, summary="The user making this request")
def me(store: StoreDep, user: Viewer) -> UserOut:
    return user_out(_find(store, user.username))


@router.get("/users", response_model=UserCollection, summary="List users")
def list_users(store: StoreDep, page: PageDep, user: Admin) -> UserCollection:
    with store.transaction():
        users = store.users.list(page.limit, page.offset)
        total = store.users.count()
    return UserCollection(users=[user_out(u) for u in users], total_entries=total)


@router.get("/users/{username}", response_model=UserOut, summary="Get a user")
def get_user(username: str, store: StoreDep, user: Admin) -> UserOut:
    return user_out(_find(store, username))


@router.post("/users", response_model=UserOut, summary="Create a user",
             responses=problem_responses(409))
def create_user(body: UserIn, store: StoreDep, user: Admin) -> UserOut:
    if store.users.get(body.username) is not None:
        raise Problem(409, f"a user {body.username!r} already exists")
    record = accounts.create_user(store, body.username, body.password, body.role,
                                  user.username, utcnow(), body.email)
    return user_out(record)


@router.patch("/users/{username}", response_model=UserOut,
              summary="Change a user's role, password or email")
def patch_user(username: str, body: UserPatch, store: StoreDep, user: Admin) -> UserOut:
    _find(store, username)
    record = accounts.update_user(store, username, user.username, utcnow(), role=body.role,
                                  password=body.password, email=body.email)
    return user_out(record)


@router.delete("/users/{username}", status_code=204, response_class=Response,
               summary="Delete a user with their tokens and sessions",
               responses=problem_responses(409))
def delete_user(username: str, store: StoreDep, user: Admin) -> Response:
    _find(store, username)
    if username == user.username:
        raise Problem(409, "you cannot delete your own user (ask another admin)")
    accounts.delete_user(store, username, user.username, utcnow())
    return Response(status_code=204)
