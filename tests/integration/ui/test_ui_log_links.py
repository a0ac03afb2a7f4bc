"""The log link a task try gets (``ti.log_url``, in alert e-mails, Slack and webhooks) opens
that try's page in the web UI, with that try's log.

A real run: the scheduler on SQLite, each try in a process of its own (the local executor),
every try printing the link it was given. Each link, without its base URL, is then opened
by a logged-in user of the web application serving that database and those logs.
"""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from millstream.config import load_settings
from millstream.executors.local import LocalExecutor
from millstream.model.states import FINISHED_RUN_STATES, DagRunState
from millstream.parsing.loader import load_dag_file
from millstream.parsing.serialize import DagStructure
from millstream.runtime.context import task_log_url
from millstream.runtime.worker import try_log_path
from millstream.scheduler.callbacks import InlineCallbackRunner
from millstream.scheduler.loop import Scheduler
from millstream.store.interfaces import XComRepo
from millstream.store.records import DagRunRecord, TaskInstanceKey
from millstream.store.sql import SqlStore, make_engine
from millstream.store.sql.migrate import migrate
from millstream.testing import serialized
from millstream.ui.catalog import CATALOG
from millstream.ui.server import create_app
from tests.integration.ui.ui_helpers import UiEnv, seed_users

BASE_URL = "http://millstream.example.com:8080"
DAG_ID = "log_links"
PIPELINE = textwrap.dedent('''
    from datetime import datetime, timedelta
    from millstream import DAG, task
    from millstream.operators.python import PythonOperator

    def flaky(ti):
        print(f"try {ti.try_number} of flaky, log at {ti.log_url}")
        if ti.try_number == 1:
            raise RuntimeError("the first try fails")

    with DAG("log_links", start_date=datetime(2026, 1, 1), schedule=None) as dag:
        @task
        def part(n, ti=None):
            print(f"part {n} (map index {ti.map_index}), log at {ti.log_url}")

        PythonOperator(task_id="flaky", python_callable=flaky, retries=1,
                       retry_delay=timedelta(0))
        part.expand(n=[10, 20])
''')
LINK = re.compile(r"log at (\S+)")


@pytest.fixture
def shared_home_ui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[UiEnv]:
    """A home whose settings the tries' processes share (they build the links from them)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("MILLSTREAM_HOME", str(home))
    monkeypatch.setenv("MILLSTREAM__WEBSERVER__BASE_URL", f"{BASE_URL}/")
    settings = load_settings()
    migrate(settings.database.url)
    CATALOG.clear()
    env = UiEnv(settings, create_app(settings))
    try:
        yield env
    finally:
        env.close()


def _run_with_real_processes(ui: UiEnv, dag_file: Path) -> DagRunRecord:
    dags = load_dag_file(dag_file)
    store = ui.store()
    seed_users(store)
    structure = DagStructure.from_dag(dags[DAG_ID])
    with store.transaction():
        store.dags.upsert(DAG_ID, str(dag_file), structure.to_json(), structure.version,
                          datetime.now(UTC))
    url = ui.settings.database.url

    def reader_factory() -> XComRepo:  # in each try's own process: its own connection
        return SqlStore(make_engine(url)).xcoms

    executor = LocalExecutor(2, ui.log_folder, reader_factory)
    executor.start()
    engine = make_engine(url)
    scheduler_store = SqlStore(engine, open_pools=True)
    try:
        scheduler = Scheduler(scheduler_store, executor, serialized(dags.values()),
                              InlineCallbackRunner(dags))
        now = datetime.now(UTC)
        run = scheduler.trigger(DAG_ID, now, dags[DAG_ID].timetable.data_interval_for(now), now)
        deadline = time.monotonic() + 60
        while True:
            scheduler.tick(datetime.now(UTC))
            current = store.runs.get(DAG_ID, run.run_id)
            assert current is not None
            if current.state in FINISHED_RUN_STATES:
                return current
            assert time.monotonic() < deadline, "the run did not finish within 60 s"
            executor.wait_for_events(0.5)
    finally:
        executor.stop(timeout=5.0, kill=True)
        scheduler_store.close()
        engine.dispose()


def _link_in_log(ui: UiEnv, key: TaskInstanceKey, try_number: int) -> str:
    text = try_log_path(ui.log_folder, key, try_number).read_text(encoding="utf-8")
    found = LINK.search(text)
    assert found, f"try {try_number} of {key} printed no link:\n{text}"
    return found.group(1)


def _open(ui: UiEnv, link: str) -> str:
    """The page at ``link``, opened on this web application by a logged-in user."""
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == BASE_URL
    page = ui.client("viewer").get(f"{parts.path}?{parts.query}", follow_redirects=False)
    assert page.status_code == 200, (link, page.status_code, page.text[:500])
    return page.text


def _shown_log(page: str) -> str:
    return page.split('id="log"', 1)[1].split(">", 1)[1].split("</pre>", 1)[0]


def test_each_tries_log_link_opens_that_tries_page_with_its_log(shared_home_ui: UiEnv,
                                                                 tmp_path: Path) -> None:
    ui = shared_home_ui
    dag_file = tmp_path / "dags" / "log_links.py"
    dag_file.parent.mkdir()
    dag_file.write_text(PIPELINE, encoding="utf-8")
    run = _run_with_real_processes(ui, dag_file)
    assert run.state is DagRunState.SUCCESS

    flaky = TaskInstanceKey(DAG_ID, run.run_id, "flaky")
    for number, other in ((1, 2), (2, 1)):
        link = _link_in_log(ui, flaky, number)
        assert link == task_log_url(DAG_ID, run.run_id, "flaky", number, base_url=BASE_URL)
        page = _open(ui, link)
        log = _shown_log(page)
        assert f"try {number} of flaky, log at" in log
        assert f"try {other} of flaky" not in log
        assert ("the first try fails" in log) is (number == 1)
        current = re.search(r'data-try="(\d+)"[^>]*aria-current="true"', page)
        assert current is not None and current.group(1) == str(number)

    for index, n in ((0, 10), (1, 20)):
        key = TaskInstanceKey(DAG_ID, run.run_id, "part", index)
        link = _link_in_log(ui, key, 1)
        assert link == task_log_url(DAG_ID, run.run_id, "part", 1, index, base_url=BASE_URL)
        log = _shown_log(_open(ui, link))
        assert f"part {n} (map index {index}), log at" in log
        assert f"part {30 - n} " not in log

    # Nobody logged in: the link leads to the login form, which comes back to it.
    parts = urlsplit(_link_in_log(ui, flaky, 2))
    anonymous = ui.client(None).get(f"{parts.path}?{parts.query}", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=%2Fdags%2Flog_links%2Ftask")
