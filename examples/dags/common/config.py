"""PipelineConfig: the example pipelines' settings from config/pipeline_config.yaml, env and Variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

CONFIG_FILE = Path(__file__).resolve().parents[1] / "config" / "pipeline_config.yaml"
ENVIRONMENTS = ("development", "staging", "production")


class PipelineConfigError(ValueError):
    """The pipeline settings are wrong; the message names the setting and the file."""


def _load(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PipelineConfigError(f"cannot read the pipeline settings {path}: {exc}") from None
    if not isinstance(loaded, dict):
        raise PipelineConfigError(f"{path} must hold a mapping of sections")
    return loaded


def _section(settings: dict[str, Any], *path: str) -> dict[str, Any]:
    """The mapping at ``path`` (e.g. ``"connections", "development"``) of the settings."""
    value: Any = settings
    for depth, name in enumerate(path):
        value = value.get(name) if isinstance(value, dict) else None
        if not isinstance(value, dict):
            where = ".".join(path[: depth + 1])
            raise PipelineConfigError(f"{CONFIG_FILE}: {where} is missing or not a mapping")
    return value


def _flag(env_name: str, default: bool) -> bool:
    raw = os.getenv(env_name)
    if raw is None:
        return bool(default)
    if raw.lower() not in ("true", "false"):
        raise PipelineConfigError(f"{env_name}={raw!r}: use true or false")
    return raw.lower() == "true"


def _number(env_name: str, default: Any) -> int:
    raw = os.getenv(env_name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise PipelineConfigError(
            f"{env_name}={raw!r} is not a whole number (default from {CONFIG_FILE})"
        ) from None
    if value < 1:
        raise PipelineConfigError(f"{env_name}={raw!r} must be at least 1")
    return value


def _environment() -> str:
    name = os.getenv("PIPELINE_ENV", "development")
    if name not in ENVIRONMENTS:
        raise PipelineConfigError(
            f"PIPELINE_ENV={name!r} is not one of {', '.join(ENVIRONMENTS)}"
        )
    return name


_SETTINGS = _load(CONFIG_FILE)
_ENVIRONMENT = _environment()
_CONNECTIONS = _section(_SETTINGS, "connections", _ENVIRONMENT)
_PROCESSING = _section(_SETTINGS, "processing")
_FEATURES = _section(_SETTINGS, "features")


def _connection_id(kind: str) -> str:
    if not _CONNECTIONS.get(kind):
        raise PipelineConfigError(
            f"{CONFIG_FILE}: connections.{_ENVIRONMENT} has no {kind!r} "
            f"(it has: {', '.join(sorted(_CONNECTIONS))})"
        )
    return str(_CONNECTIONS[kind])


class PipelineConfig:
    """Centralized configuration for the pipelines.

    The defaults come from ``config/pipeline_config.yaml``; environment variables
    override them; run-time values can come from millstream Variables.
    """

    ENVIRONMENT = _ENVIRONMENT

    # Connection ids of this environment
    SOURCE_DB_CONN_ID = _connection_id("source")
    WAREHOUSE_DB_CONN_ID = _connection_id("warehouse")

    # Processing settings
    BATCH_SIZE = _number("BATCH_SIZE", _PROCESSING.get("batch_size", 10000))
    PARALLEL_TASKS = _number("PARALLEL_TASKS", _PROCESSING.get("parallel_tasks", 4))

    # Feature flags
    ENABLE_DATA_QUALITY_CHECKS = _flag("ENABLE_DQ_CHECKS",
                                       _FEATURES.get("data_quality_checks", True))
    ENABLE_NOTIFICATIONS = _flag("ENABLE_NOTIFICATIONS", _FEATURES.get("notifications", True))

    ALERT_EMAILS: list[str] = list(_section(_SETTINGS, "alerts").get("email") or [])
    DEMO_DATA: dict[str, Any] = dict(_section(_SETTINGS, "demo_data"))

    @classmethod
    def get_variable(cls, key: str, default: Any = None) -> Any:
        """A millstream Variable, or ``default`` when it is not set.

        Unlike a bare ``except Exception``, an unreachable metadata database is an
        error here, not a silent fall-back to the default.
        """
        from millstream.secrets import Variable

        return Variable.get(key, default_var=default)

    @classmethod
    def get_json_variable(cls, key: str, default: dict[str, Any] | None = None) -> dict[str, Any]:
        """A JSON millstream Variable as a dict, or ``default`` (or ``{}``) when it is not set."""
        from millstream.secrets import Variable

        value = Variable.get(key, default_var=None, deserialize_json=True)
        if value is None:
            return dict(default or {})
        if not isinstance(value, dict):
            raise PipelineConfigError(f"Variable {key!r} must hold a JSON object, "
                                      f"got {type(value).__name__}")
        return value

    @classmethod
    def get_connection_config(cls, conn_type: str) -> str:
        """The connection id of ``conn_type`` (``source`` or ``warehouse``) in this environment."""
        return _connection_id(conn_type)
