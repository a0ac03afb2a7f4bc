"""WebhookNotifier: posts an alert about a task try or DAG run as JSON to a URL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from millstream.notify.base import BaseNotifier, NotificationError, alert_fields, render


class WebhookNotifier(BaseNotifier):
    """Posts ``alert_fields(context)`` as JSON: ``dag_id``, ``task_id``, ``run_id``,
    ``map_index``, ``try_number``, ``max_tries``, ``state``, ``logical_date``, ``error``,
    ``exception_type``, ``reason`` and ``log_url``.

    Give either ``url`` or ``conn_id`` (an HTTP connection: its host is the URL, its
    login/password basic auth, its extra headers; ``endpoint`` is appended). ``message``
    is a Jinja template rendered with the context and sent as ``message``;
    ``extra_payload`` is merged into the JSON. Use as a callback::

        PythonOperator(..., on_failure_callback=WebhookNotifier("https://ops/hooks/x"))
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        conn_id: str | None = None,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
        message: str | None = None,
        extra_payload: Mapping[str, Any] | None = None,
        method: str = "POST",
        timeout: float = 10.0,
    ) -> None:
        if bool(url) == bool(conn_id):
            raise ValueError("WebhookNotifier needs exactly one of url or conn_id")
        self.url = url
        self.conn_id = conn_id
        self.endpoint = endpoint
        self.headers = dict(headers or {})
        self.message = message
        self.extra_payload = dict(extra_payload or {})
        self.method = method.upper()
        self.timeout = timeout

    def payload(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON document sent for ``context``."""
        payload = alert_fields(context)
        if self.message is not None:
            payload["message"] = render(self.message, context)
        payload.update(self.extra_payload)
        return payload

    def notify(self, context: Mapping[str, Any]) -> None:
        post_json(self.payload(context), url=self.url, conn_id=self.conn_id,
                  endpoint=self.endpoint, headers=self.headers, method=self.method,
                  timeout=self.timeout)

    def __repr__(self) -> str:
        return f"<WebhookNotifier {self.conn_id or _site(self.url or '')}>"


def post_json(payload: Any, *, url: str | None = None, conn_id: str | None = None,
              endpoint: str | None = None, headers: Mapping[str, str] | None = None,
              method: str = "POST", timeout: float = 10.0) -> None:
    """Send ``payload`` as JSON; raise :class:`NotificationError` unless the answer is 2xx.

    Errors name the connection or only the URL's host: webhook paths often hold a token.
    """
    from millstream.hooks.http import HttpHook

    name = f"connection {conn_id!r}" if conn_id else _site(url or "")
    hook = HttpHook(method, http_conn_id=conn_id)
    try:
        with hook.get_conn(headers, {"timeout": timeout}) as client:
            response = client.request(method, url or hook.url_from_endpoint(endpoint),
                                      json=payload)
    except Exception as exc:
        raise NotificationError(f"webhook {name} failed: {type(exc).__name__}: {exc}") from None
    if response.is_error:
        raise NotificationError(f"webhook {name} answered HTTP {response.status_code}: "
                                f"{response.text[:200]}")


def _site(url: str) -> str:
    """Scheme and host of ``url`` only: webhook paths often carry a secret token."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" if parts.hostname else "<url>"


__all__ = ["WebhookNotifier", "post_json"]
