"""Alerts of the example pipelines: posted to the ``alerts_webhook`` connection when it is defined.

Define it like any HTTP connection, e.g. ``MILLSTREAM_CONN_ALERTS_WEBHOOK=https://hooks.example.com``
(its extra can carry headers such as an API token). Without it an alert is only logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from millstream.notify.webhook import WebhookNotifier, post_json
from millstream.secrets import get_connection
from millstream.secrets.errors import ConnectionNotFound

log = logging.getLogger(__name__)

ALERTS_CONN_ID = "alerts_webhook"


def alerts_configured(conn_id: str = ALERTS_CONN_ID) -> bool:
    """Whether the alerts webhook connection is defined anywhere."""
    try:
        get_connection(conn_id)
    except ConnectionNotFound:
        return False
    return True


def send_alert(event: str, message: str, context: Mapping[str, Any] | None = None,
               enabled: bool = True, conn_id: str = ALERTS_CONN_ID) -> bool:
    """Post ``message`` about ``event`` to the alerts webhook; returns whether it was sent.

    With a task's ``context`` the post also carries the task, run, state, error and log
    link (the notifier's standard fields).
    """
    if not enabled or not alerts_configured(conn_id):
        log.info("alert %s not sent (no %r connection or notifications off)", event, conn_id)
        return False
    extra = {"event": event, "message": message}
    if context is not None:
        WebhookNotifier(conn_id=conn_id, extra_payload=extra).notify(context)
    else:
        post_json(extra, conn_id=conn_id)
    return True
