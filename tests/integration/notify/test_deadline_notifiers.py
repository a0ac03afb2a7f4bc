"""Missed deadlines through the webhook and Slack notifiers, against a real HTTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from millstream import DAG, DeadlineAlert, DeadlineReference
from millstream.notify import SlackWebhookNotifier, WebhookNotifier
from millstream.operators.empty import EmptyOperator
from millstream.runtime.dag_callbacks import SlaMiss, call_sla_miss_callback
from tests.integration.hooks.servers import RecordingHttpServer

DUE = datetime(2026, 3, 1, 6, tzinfo=UTC)


def test_a_missed_deadline_is_posted_to_a_webhook_and_slack(
        http_server: RecordingHttpServer) -> None:
    with DAG("nightly", schedule="@daily", start_date=datetime(2026, 1, 1, tzinfo=UTC),
             deadline=DeadlineAlert(
                 DeadlineReference.DAGRUN_QUEUED_AT, timedelta(hours=2),
                 [WebhookNotifier(f"{http_server.url}/hook", message="{{ reason }}"),
                  SlackWebhookNotifier(f"{http_server.url}/slack")])) as dag:
        EmptyOperator(task_id="load")

    call_sla_miss_callback(dag, [SlaMiss("nightly", "scheduled__x", "", DUE, kind="deadline")])

    (hook,) = (r.json() for r in http_server.requests_to("/hook"))
    reason = f"run scheduled__x of DAG nightly missed its deadline {DUE.isoformat()}"
    assert (hook["dag_id"], hook["run_id"], hook["reason"], hook["message"]) == (
        "nightly", "scheduled__x", reason, reason)
    (slack,) = (r.json() for r in http_server.requests_to("/slack"))
    assert "nightly" in slack["text"] and "scheduled__x" in slack["text"]


def test_a_notifier_as_sla_miss_callback_gets_one_context_per_late_task(
        http_server: RecordingHttpServer) -> None:
    with DAG("slas", schedule="@daily", start_date=datetime(2026, 1, 1, tzinfo=UTC),
             sla_miss_callback=WebhookNotifier(f"{http_server.url}/sla")) as dag:
        EmptyOperator(task_id="a", sla=timedelta(hours=1))
        EmptyOperator(task_id="b", sla=timedelta(hours=1))

    call_sla_miss_callback(dag, [SlaMiss("slas", "r1", "a", DUE), SlaMiss("slas", "r1", "b", DUE)])

    posted = sorted((r.json() for r in http_server.requests_to("/sla")),
                    key=lambda p: p["reason"])
    assert [p["reason"].split(" of ")[0] for p in posted] == ["task a", "task b"]
    assert all("missed its SLA" in p["reason"] for p in posted)
