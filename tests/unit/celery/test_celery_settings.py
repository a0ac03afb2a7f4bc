"""The [celery] settings and the executor choice."""

from __future__ import annotations

from pathlib import Path

import pytest

from millstream.config import SettingsError, load_settings


def test_the_celery_section_comes_from_the_environment_with_its_secrets_masked(
    tmp_path: Path,
) -> None:
    settings = load_settings(tmp_path, environ={
        "MILLSTREAM__SCHEDULER__EXECUTOR": "celery",
        "MILLSTREAM__CELERY__BROKER_URL": "amqp://guest:hunter2@rabbit:5672//",
        "MILLSTREAM__CELERY__LOG_SERVER_SECRET": "shared",
        "MILLSTREAM__CELERY__WORKER_CONCURRENCY": "16",
    })
    assert settings.scheduler.executor == "celery"
    assert settings.celery.broker_url == "amqp://guest:hunter2@rabbit:5672//"
    assert settings.celery.worker_concurrency == 16
    secret = settings.celery.log_server_secret
    assert secret is not None and secret.get_secret_value() == "shared"
    masked = settings.masked()["celery"]
    assert masked["log_server_secret"] == "***"
    assert "hunter2" not in masked["broker_url"]


@pytest.mark.parametrize(("name", "value", "complaint"), [
    ("MILLSTREAM__CELERY__BROKER_URL", "http://broker", "a broker URL looks like redis://"),
    ("MILLSTREAM__CELERY__WORKER_CONCURRENCY", "0", "celery.worker_concurrency"),
    ("MILLSTREAM__SCHEDULER__EXECUTOR", "kubernetes", "allowed: local, celery"),
])
def test_a_bad_celery_setting_is_refused_naming_it(
    tmp_path: Path, name: str, value: str, complaint: str
) -> None:
    with pytest.raises(SettingsError, match=complaint) as raised:
        load_settings(tmp_path, environ={name: value})
    assert name in str(raised.value)
