"""``airflow.configuration.conf``: Airflow's settings questions answered from millstream's settings.

DAG files and helpers read settings with ``conf.get("core", "dags_folder")``. The keys
millstream has an equivalent for answer from millstream's settings; an
``AIRFLOW__SECTION__KEY`` environment variable wins, as in Airflow; any other key gives
the caller's ``fallback``, else an error naming the key and the keys that are known.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from millstream.exceptions import MillstreamError

_NO_FALLBACK: Any = object()
_TRUE = frozenset({"t", "true", "1", "yes", "on", "y"})
_FALSE = frozenset({"f", "false", "0", "no", "off", "n", ""})


class AirflowConfigException(MillstreamError):
    """A setting Airflow DAG code asked for that millstream cannot answer."""


def _settings() -> Any:
    from millstream.config import load_settings

    return load_settings()


# (section, key) -> how to read it from millstream's settings
_KEYS: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("core", "dags_folder"): lambda s: str(s.core.dags_folder),
    ("core", "plugins_folder"): lambda s: str(s.core.plugins_folder),
    ("core", "load_examples"): lambda s: bool(s.core.load_examples),
    ("core", "dags_are_paused_at_creation"): lambda s: s.core.dags_are_paused_at_creation,
    ("core", "default_timezone"): lambda s: "utc",
    ("core", "executor"): lambda s: "LocalExecutor",
    ("core", "parallelism"): lambda s: s.scheduler.parallelism,
    ("core", "dagbag_import_timeout"): lambda s: s.scheduler.file_parse_timeout_s,
    ("core", "max_active_tasks_per_dag"): lambda s: 16,
    ("core", "max_active_runs_per_dag"): lambda s: 16,
    ("core", "unit_test_mode"): lambda s: False,
    ("database", "sql_alchemy_conn"): lambda s: s.database.url,
    ("scheduler", "catchup_by_default"): lambda s: s.scheduler.catchup_by_default,
    ("scheduler", "dag_dir_list_interval"): lambda s: s.scheduler.parse_interval_s,
    ("logging", "base_log_folder"): lambda s: str(s.logging.base_log_folder),
    ("logging", "logging_level"): lambda s: s.logging.level,
    ("webserver", "base_url"): lambda s: s.webserver.base_url or
    f"http://{s.webserver.host}:{s.webserver.port}",
    ("api", "base_url"): lambda s: s.webserver.base_url or
    f"http://{s.webserver.host}:{s.webserver.port}",
    ("webserver", "web_server_port"): lambda s: s.webserver.port,
    ("smtp", "smtp_host"): lambda s: s.smtp.host,
    ("smtp", "smtp_port"): lambda s: s.smtp.port,
    ("smtp", "smtp_mail_from"): lambda s: s.smtp.mail_from,
    ("smtp", "smtp_starttls"): lambda s: s.smtp.starttls,
    ("smtp", "smtp_ssl"): lambda s: s.smtp.ssl,
}


class AirflowConfig:
    """The ``conf`` object of ``airflow.configuration``: ``get``, ``getboolean``, ``getint``..."""

    def _raw(self, section: str, key: str, fallback: Any) -> Any:
        section, key = section.lower(), key.lower()
        env = os.environ.get(f"AIRFLOW__{section.upper()}__{key.upper()}")
        if env is not None:
            return env
        reader = _KEYS.get((section, key))
        if reader is not None:
            return reader(_settings())
        if fallback is not _NO_FALLBACK:
            return fallback
        known = ", ".join(f"{s}.{k}" for s, k in sorted(_KEYS))
        raise AirflowConfigException(
            f"section/key [{section}/{key}] not found in config: millstream answers {known} "
            f"(or set AIRFLOW__{section.upper()}__{key.upper()})"
        )

    def get(self, section: str, key: str, fallback: Any = _NO_FALLBACK, **_: Any) -> Any:
        """The setting as a string (``fallback`` as given when the key is unknown)."""
        value = self._raw(section, key, fallback)
        if isinstance(value, bool):
            return str(value)
        return value if value is None or value is fallback else str(value)

    def getboolean(self, section: str, key: str, fallback: Any = _NO_FALLBACK,
                   **_: Any) -> bool:
        value = self._raw(section, key, fallback)
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower().split("#")[0].strip()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise AirflowConfigException(
            f"the value for [{section}/{key}] must be true or false, not {value!r}")

    def getint(self, section: str, key: str, fallback: Any = _NO_FALLBACK, **_: Any) -> int:
        value = self._raw(section, key, fallback)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise AirflowConfigException(
                f"the value for [{section}/{key}] must be an integer, not {value!r}") from None

    def getfloat(self, section: str, key: str, fallback: Any = _NO_FALLBACK,
                 **_: Any) -> float:
        value = self._raw(section, key, fallback)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise AirflowConfigException(
                f"the value for [{section}/{key}] must be a number, not {value!r}") from None

    def has_option(self, section: str, key: str) -> bool:
        return self._raw(section, key, None) is not None

    def __repr__(self) -> str:
        return "<airflow.configuration.conf (millstream's settings)>"


conf = AirflowConfig()

__all__ = ["AirflowConfig", "AirflowConfigException", "conf"]
