"""Deadline alerts end to end: a run that outlives its DAG's deadline and a task past its
sla are recorded, counted, mailed through a real SMTP server and shown in the UI."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiosmtpd.controller import Controller
from engine_helpers import Home, wait_for
from prometheus_client.parser import text_string_to_metric_families
from tests.integration.hooks.servers import SmtpInbox, closed_port

from millstream.api import accounts
from millstream.api.auth import SESSION_COOKIE
from millstream.model.states import DagRunState

LATE_DAG = """
    import time
    from datetime import datetime, timedelta, timezone

    from millstream import DAG, DeadlineAlert, DeadlineReference
    from millstream.notify import EmailNotifier
    from millstream.operators.python import PythonOperator

    with DAG("late_dag", schedule="@daily", catchup=False,
             start_date=datetime({start}, tzinfo=timezone.utc),
             sla_miss_callback=EmailNotifier("sla@example.com"),
             deadline=DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT,
                                    interval=timedelta(seconds=1),
                                    callback=EmailNotifier("oncall@example.com"))) as dag:
        PythonOperator(task_id="slow", python_callable=lambda: time.sleep(6),
                       sla=timedelta(seconds=1))
"""


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpInbox, int]]:
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=closed_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def test_missed_deadlines_reach_smtp_the_metrics_and_the_ui(
    blank_home: Home, smtp: tuple[SmtpInbox, int],
) -> None:
    inbox, port = smtp
    home = blank_home
    home.set(scheduler__parse_interval_s=1, smtp__host="127.0.0.1", smtp__port=port,
             smtp__starttls="false", metrics__token="tok")
    start = datetime.now(UTC) - timedelta(days=3)
    home.write_dag("late_dag.py",
                   LATE_DAG.format(start=f"{start.year}, {start.month}, {start.day}"))
    proc = home.start("standalone", "--no-examples")
    wait_for(lambda: "scheduler running" in proc.output(), 30, "standalone to start",
             proc.tail)
    web = re.search(r"web server on (http://\S+)", proc.output())
    assert web, proc.tail()

    wait_for(lambda: len(inbox.mails) >= 2, 60, "the deadline and SLA e-mails",
             lambda: home.describe("late_dag") + "\n" + proc.tail())
    by_rcpt = {tuple(m.rcpt_tos): m for m in inbox.mails}
    deadline_mail = by_rcpt[("oncall@example.com",)]
    (run,) = home.runs("late_dag")
    assert "missed its deadline" in deadline_mail.subject
    assert run.run_id in deadline_mail.parts["text/plain"]
    sla_mail = by_rcpt[("sla@example.com",)]
    assert "task slow of run" in sla_mail.subject and "missed its SLA" in sla_mail.subject

    store = home.store()
    misses = store.deadline_misses.for_run("late_dag", run.run_id)
    assert sorted((m.kind, m.task_id) for m in misses) == [("deadline", ""), ("sla", "slow")]
    deadline = next(m for m in misses if m.kind == "deadline")
    assert deadline.deadline == run.queued_at + timedelta(seconds=1)
    # The run still ends as it would have: a deadline only alerts.
    wait_for(lambda: home.run("late_dag", run.run_id).state is DagRunState.SUCCESS, 60,
             "the late run to succeed anyway", proc.tail)

    admin = accounts.open_login_session(store, "admin", datetime.now(UTC), timedelta(hours=1))
    cookies = {SESSION_COOKIE: admin}
    page = httpx.get(f"{web.group(1)}/dags/late_dag/run", params={"run_id": run.run_id},
                     cookies=cookies, timeout=10)
    assert page.status_code == 200
    assert re.search(r'id="deadline-missed"[^>]*>missed 2 deadlines<', page.text), page.text
    listing = httpx.get(f"{web.group(1)}/deadline-misses", cookies=cookies, timeout=10)
    assert listing.status_code == 200
    assert listing.text.count("<code>deadline</code>") == 1
    assert listing.text.count("<code>sla</code>") == 1
    metrics = httpx.get(f"{web.group(1)}/metrics", headers={"Authorization": "Bearer tok"},
                        timeout=10)
    samples = {(s.name, s.labels.get("kind")): s.value
               for f in text_string_to_metric_families(metrics.text) for s in f.samples
               if s.name == "millstream_deadline_misses_total"}
    assert samples == {("millstream_deadline_misses_total", "deadline"): 1,
                       ("millstream_deadline_misses_total", "sla"): 1}


