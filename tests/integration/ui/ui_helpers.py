"""Helpers of the web UI tests: seeding a database with users, DAGs and real runs, and
driving the pages as a logged-in user of each role."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from millstream.api import accounts
from millstream.config import Settings
from millstream.model.states import FINISHED_RUN_STATES
from millstream.parsing.dagbag import DagBag
from millstream.parsing.serialize import DagStructure
from millstream.store.current import using_store
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord
from millstream.store.sql import SqlStore, make_engine
from millstream.testing import in_process_scheduler
from tests.autocommit import autocommit

DAGS_FOLDER = Path(__file__).parent / "dags"
PASSWORDS = {"admin": "admin-password", "op": "op-password", "viewer": "viewer-password"}
ROLES = ("viewer", "op", "admin")
DAY = datetime(2026, 1, 1, tzinfo=UTC)
BROKEN_FILE = "/dags/broken_<i>.py"
ETL_RUNS = 3


def seed_users(store: Store) -> None:
    for role, password in PASSWORDS.items():
        accounts.create_user(store, role, password, role, "tests", DAY)


def load_dags() -> DagBag:
    bag = DagBag(DAGS_FOLDER)
    assert not bag.import_errors, bag.import_errors
    return bag


def seed_dags(store: Store, bag: DagBag) -> None:
    """Store the DAGs as a scheduler's parse would, and an import error of another file."""
    with store.transaction():
        for dag_id, dag in sorted(bag.dags.items()):
            structure = DagStructure.from_dag(dag)
            store.dags.upsert(dag_id, dag.fileloc, structure.to_json(), structure.version, DAY,
                              paused_on_create=bool(dag.is_paused_upon_creation))
        store.import_errors.set(BROKEN_FILE, "Traceback (most recent call last):\n"
                                "SyntaxError: <script>alert('tb')</script> (line 3)", DAY)


def run_to_end(store: SqlStore, bag: DagBag, dag_id: str, day: int,
               conf: dict[str, Any] | None = None) -> DagRunRecord:
    """One manual run of a DAG through the real scheduler, its tasks run in this process."""
    dag = bag.dags[dag_id]
    clock = lambda: datetime.now(UTC)  # noqa: E731 - the executor's clock
    scheduler = in_process_scheduler(store, [dag], clock)
    logical = DAY + timedelta(days=day)
    run = scheduler.trigger(dag_id, logical, dag.timetable.data_interval_for(logical), clock(),
                            conf=conf)
    with using_store(store):
        for _ in range(200):
            scheduler.tick(clock())
            current = store.runs.get(dag_id, run.run_id)
            assert current is not None
            if current.state in FINISHED_RUN_STATES:
                return current
    raise AssertionError(f"run {run.run_id} of {dag_id} did not finish")


class FormFields(HTMLParser):
    """The hidden and visible input values of the forms in a page, by form id."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self._current = values.get("id") or f"form{len(self.forms)}"
            self.forms[self._current] = {}
        elif tag == "input" and self._current is not None and values.get("name"):
            self.forms[self._current][values["name"] or ""] = values.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def form_fields(html: str, form_id: str) -> dict[str, str]:
    parser = FormFields()
    parser.feed(html)
    return parser.forms[form_id]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def attr_values(html: str, attribute: str) -> list[str]:
    return re.findall(rf'{attribute}="([^"]*)"', html)


@dataclass
class UiEnv:
    """The app under test, a logged-in client per role, and the store behind it."""

    settings: Settings
    app: FastAPI
    _clients: dict[str, TestClient] = field(default_factory=dict)
    _engine: Any = None
    _stores: list[SqlStore] = field(default_factory=list)

    def client(self, role: str | None) -> TestClient:
        """A client logged in as the user named after ``role`` (None: nobody)."""
        name = role or "anonymous"
        if name not in self._clients:
            client = TestClient(self.app)
            client.__enter__()
            self._clients[name] = client
            if role is not None:
                response = login(client, role, PASSWORDS[role])
                assert response.status_code == 303, response.text
        return self._clients[name]

    def get(self, role: str | None, path: str, **params: Any) -> httpx.Response:
        target = path + ("?" + urlencode(params, doseq=True) if params else "")
        return self.client(role).get(target, follow_redirects=False)

    def post(self, role: str | None, path: str, data: dict[str, Any],
             csrf_from: str | None = None) -> httpx.Response:
        """POST a form; ``csrf_from`` is a page whose CSRF token the form carries."""
        client = self.client(role)
        if csrf_from is not None:
            data = {**data, "csrf_token": csrf_of(client.get(csrf_from).text)}
        return client.post(path, data=data, follow_redirects=False)

    def store(self) -> SqlStore:
        if self._engine is None:
            self._engine = make_engine(self.settings.database.url)
        store = SqlStore(self._engine)
        self._stores.append(store)
        return autocommit(store)  # type: ignore[no-any-return]

    @property
    def log_folder(self) -> Path:
        return Path(self.settings.logging.base_log_folder)

    def close(self) -> None:
        for client in self._clients.values():
            client.__exit__(None, None, None)
        for store in self._stores:
            store.close()
        if self._engine is not None:
            self._engine.dispose()


def login(client: TestClient, username: str, password: str,
          next_url: str = "/dags") -> httpx.Response:
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "next": next_url, "csrf_token": csrf_of(page.text)},
                       follow_redirects=False)


def run_query(run_id: str, **params: Any) -> str:
    return urlencode({"run_id": run_id, **params})
