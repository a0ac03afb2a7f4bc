"""Notifications: e-mail over SMTP, and e-mail, webhook and Slack notifiers usable as callbacks."""

from __future__ import annotations

from millstream.notify.base import BaseNotifier, NotificationError, alert_fields
from millstream.notify.email import send_email
from millstream.notify.email_notifier import EmailNotifier
from millstream.notify.slack import SlackWebhookNotifier
from millstream.notify.webhook import WebhookNotifier

__all__ = [
    "BaseNotifier",
    "EmailNotifier",
    "NotificationError",
    "SlackWebhookNotifier",
    "WebhookNotifier",
    "alert_fields",
    "send_email",
]
