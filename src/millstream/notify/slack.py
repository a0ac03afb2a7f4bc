"""SlackWebhookNotifier: posts an alert about a task try or DAG run to a Slack incoming webhook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from millstream.notify.base import BaseNotifier, NotificationError, alert_fields, render
from millstream.notify.webhook import post_json

if TYPE_CHECKING:
    from millstream.secrets import Connection

DEFAULT_SLACK_HOST = "https://hooks.slack.com/services"
_ICONS = {"failed": ":red_circle:", "up_for_retry": ":warning:",
          "success": ":white_check_mark:"}
_OUTCOMES = {"failed": "failed", "up_for_retry": "is up for retry", "success": "succeeded"}


class SlackWebhookNotifier(BaseNotifier):
    """Posts ``{"text": ...}`` to a Slack incoming webhook; the text names the DAG, task,
    run, try, state, error and links the log.

    Give ``webhook_url`` or ``slack_webhook_conn_id``: a connection whose extra has
    ``webhook_url``, or whose password is the webhook URL, or whose password is the
    token path (``T000/B000/XXXX``) under its host, port and schema (the path), by
    default ``https://hooks.slack.com/services``.
    ``text`` (a Jinja template rendered with the context) replaces the default text;
    ``channel``, ``username`` and ``icon_emoji`` are sent when given.
    """

    def __init__(
        self,
        webhook_url: str | None = None,
        *,
        slack_webhook_conn_id: str | None = None,
        text: str | None = None,
        channel: str | None = None,
        username: str | None = None,
        icon_emoji: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if bool(webhook_url) == bool(slack_webhook_conn_id):
            raise ValueError(
                "SlackWebhookNotifier needs exactly one of webhook_url or slack_webhook_conn_id"
            )
        self.webhook_url = webhook_url
        self.slack_webhook_conn_id = slack_webhook_conn_id
        self.text = text
        self.channel = channel
        self.username = username
        self.icon_emoji = icon_emoji
        self.timeout = timeout

    def payload(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON document Slack receives for ``context``."""
        text = render(self.text, context) if self.text else default_text(alert_fields(context))
        payload: dict[str, Any] = {"text": text}
        for key in ("channel", "username", "icon_emoji"):
            if getattr(self, key):
                payload[key] = getattr(self, key)
        return payload

    def resolve_url(self) -> str:
        """The webhook URL, from the argument or the connection."""
        if self.webhook_url:
            return self.webhook_url
        from millstream.secrets import get_connection

        assert self.slack_webhook_conn_id is not None
        return webhook_url_from_connection(get_connection(self.slack_webhook_conn_id))

    def notify(self, context: Mapping[str, Any]) -> None:
        post_json(self.payload(context), url=self.resolve_url(), timeout=self.timeout)

    def __repr__(self) -> str:
        return f"<SlackWebhookNotifier {self.slack_webhook_conn_id or 'url'}>"


def webhook_url_from_connection(conn: Connection) -> str:
    """The incoming-webhook URL a Slack webhook connection describes (see the class)."""
    extra = conn.extra_dejson or {}
    if extra.get("webhook_url"):
        return str(extra["webhook_url"])
    token = conn.password or ""
    if token.startswith(("https://", "http://")):
        return token
    if not token:
        raise NotificationError(
            f"connection {conn.conn_id!r} has no Slack webhook: put the webhook URL, or its "
            "token path T000/B000/XXXX, in the password (or webhook_url in the extra)"
        )
    host = conn.host or DEFAULT_SLACK_HOST
    if "://" not in host:
        host = f"https://{host}"
    if conn.port:
        host = f"{host.rstrip('/')}:{conn.port}"
    if conn.schema:  # the URI form puts the host's path (e.g. services) here
        host = f"{host.rstrip('/')}/{conn.schema.strip('/')}"
    return f"{host.rstrip('/')}/{token.lstrip('/')}"


def default_text(fields: Mapping[str, Any]) -> str:
    """Slack mrkdwn naming DAG, task, run, try, state and error, with a link to the log."""
    state = str(fields.get("state") or "")
    icon = _ICONS.get(state, ":information_source:")
    outcome = _OUTCOMES.get(state, state or "reported")
    task = fields.get("task_id")
    map_index = fields.get("map_index")
    if task is not None and map_index is not None and map_index >= 0:
        task = f"{task}[{map_index}]"
    subject = f"Task {_esc(task)}" if task is not None else "DAG run"
    lines = [f"{icon} *{subject} {outcome}* in DAG `{_esc(fields.get('dag_id'))}`",
             f"*DAG*: {_esc(fields.get('dag_id'))}"]
    if task is not None:
        lines.append(f"*Task*: {_esc(task)}")
    lines.append(f"*Run*: {_esc(fields.get('run_id'))}")
    if fields.get("try_number") is not None:
        lines.append(f"*Try*: {fields['try_number']} of {fields.get('max_tries')}")
    if fields.get("reason"):
        lines.append(f"*Reason*: {_esc(fields['reason'])}")
    if fields.get("error"):
        lines.append(f"*Error*: ```{_esc(fields['error'])}```")
    if fields.get("log_url"):
        lines.append(f"*Log*: <{fields['log_url']}|view the log>")
    return "\n".join(lines)


def _esc(value: Any) -> str:
    """Slack's three control characters escaped, so an error text cannot break the markup."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["SlackWebhookNotifier", "default_text", "webhook_url_from_connection"]
