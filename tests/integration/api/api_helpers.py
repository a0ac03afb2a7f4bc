"""Helpers of the REST API tests: seeding users, DAGs and runs, and calling the API as a role."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from millstream.api import accounts
from millstream.config import Settings
from millstream.model.states import DagRunState, TaskState
from millstream.parsing.dagbag import DagBag
from millstream.parsing.serialize import DagStructure
from millstream.scheduler.runs import plan_run
from millstream.services import trigger
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceKey, TaskTryRecord
from millstream.store.sql import SqlStore, make_engine
from tests.autocommit import autocommit

DAGS_FOLDER = Path(__file__).parent / "dags"
PASSWORDS = {"admin": "admin-password", "op": "op-password", "viewer": "viewer-password"}
"""One user per role, named after it."""
ROLES = ("viewer", "op", "admin")
DAY = datetime(2026, 1, 1, tzinfo=UTC)
BROKEN_FILE = "/dags/broken.py"


def seed_users(store: Store, passwords: dict[str, str]) -> dict[str, str]:
    """A user per role (named after the role) and an API token each; returns the tokens."""
    tokens: dict[str, str] = {}
    for role, password in passwords.items():
        accounts.create_user(store, role, password, role, "tests", DAY)
        _, tokens[role] = accounts.create_token(store, role, "tests", DAY, name=f"{role} key")
    return tokens


def seed_dags(store: Store, folder: Path) -> None:
    """Store the structures of the DAGs in ``folder`` as a scheduler's parse would, and an
    import error for a file that fails."""
    bag = DagBag(folder)
    assert not bag.import_errors, bag.import_errors
    with store.transaction():
        for dag_id, dag in sorted(bag.dags.items()):
            structure = DagStructure.from_dag(dag)
            store.dags.upsert(dag_id, dag.fileloc, structure.to_json(), structure.version, DAY)
        store.import_errors.set(BROKEN_FILE, "Traceback (most recent call last):\n"
                                "SyntaxError: invalid syntax (broken.py, line 3)", DAY)


@dataclass
class ApiEnv:
    """The app under test, its settings, and each role's token."""

    settings: Settings
    client: TestClient
    tokens: dict[str, str]
    _engine: Any = None
    _stores: list[SqlStore] = field(default_factory=list)

    # -- calling the API -----------------------------------------------------------------------
    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    def call(self, role: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(role), **kwargs.pop("headers", {})}
        return self.client.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    def get(self, role: str | None, path: str, **kwargs: Any) -> httpx.Response:
        return self.call(role, "GET", path, **kwargs)

    def post(self, role: str | None, path: str, **kwargs: Any) -> httpx.Response:
        return self.call(role, "POST", path, **kwargs)

    def patch(self, role: str | None, path: str, **kwargs: Any) -> httpx.Response:
        return self.call(role, "PATCH", path, **kwargs)

    def delete(self, role: str | None, path: str, **kwargs: Any) -> httpx.Response:
        return self.call(role, "DELETE", path, **kwargs)

    # -- the store behind it -------------------------------------------------------------------
    def store(self) -> SqlStore:
        """A store over the app's database, for seeding and for checking what the API did."""
        if self._engine is None:
            self._engine = make_engine(self.settings.database.url)
        store = SqlStore(self._engine)
        self._stores.append(store)
        return autocommit(store)  # type: ignore[no-any-return]

    def close(self) -> None:
        for store in self._stores:
            store.close()
        if self._engine is not None:
            self._engine.dispose()

    @property
    def log_folder(self) -> Path:
        return Path(self.settings.logging.base_log_folder)

    # -- seeding runs and task states ----------------------------------------------------------
    def add_run(self, run_id: str = "r1", day: int = 0, dag_id: str = "api_etl",
                conf: dict[str, Any] | None = None) -> DagRunRecord:
        """A queued manual run with its task instances, as a trigger makes it."""
        store = self.store()
        structure = DagStructure.from_json_text(store.dags.structure(dag_id) or "")
        logical = DAY + timedelta(days=day)
        run, instances = plan_run(structure, logical,  # type: ignore[arg-type]
                                  structure.timetable.data_interval_for(logical), DAY,
                                  "manual", conf, run_id)
        return trigger.add_run(store, trigger.NewRun(run, tuple(instances)), "tests", DAY)

    def start_run(self, run_id: str = "r1", dag_id: str = "api_etl") -> None:
        store = self.store()
        run = store.runs.get(dag_id, run_id)
        assert run is not None
        run = store.runs.set_state(run, DagRunState.RUNNING, start_date=DAY)

    def set_task(self, run_id: str, task_id: str, state: TaskState, tries: int = 1,
                 dag_id: str = "api_etl", map_index: int = -1) -> None:
        """Take a task instance through a scheduler's transitions to ``state``; every try
        before the last one failed."""
        store = self.store()
        key = TaskInstanceKey(dag_id, run_id, task_id, map_index)
        with store.transaction():
            ti = store.task_instances.get(key)
            assert ti is not None
            if state in (TaskState.SKIPPED, TaskState.UPSTREAM_FAILED, TaskState.SCHEDULED):
                ti = store.task_instances.set_state(ti, state)
                return
            for number in range(1, tries + 1):
                ti = store.task_instances.set_state(ti, TaskState.SCHEDULED)
                ti = store.task_instances.set_state(ti, TaskState.QUEUED, try_number=number)
                ti = store.task_instances.set_state(ti, TaskState.RUNNING, start_date=DAY,
                                               hostname="worker-1", pid=4242)
                if number < tries:
                    ti = store.task_instances.set_state(ti, TaskState.UP_FOR_RETRY, end_date=DAY)
                    store.task_instances.record_try(
                        TaskTryRecord(key, number, TaskState.UP_FOR_RETRY, DAY, DAY, "boom"))
            if state is TaskState.RUNNING:
                return
            end = DAY + timedelta(seconds=30)
            ti = store.task_instances.set_state(ti, state, end_date=end)
            store.task_instances.record_try(TaskTryRecord(key, tries, state, DAY, end))
