"""The sections of millstream's settings: each one's keys, defaults and checks.

:mod:`millstream.config` reads them from the settings file and the environment; this
module only says what each section holds and what a valid value is.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from millstream.model.limits import Limits

HOME_ENV = "MILLSTREAM_HOME"
DEFAULT_HOME = "~/.millstream"

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'millstream.db'}"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def default_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser()


class CoreSettings(_Section):
    """``[core]``: where millstream keeps its files, and what every component shares."""

    home: Path = Field(default_factory=default_home)
    dags_folder: Path = Field(default_factory=lambda: default_home() / "dags")
    # As Airflow's: on the import path of DAG files and tasks, for custom operators and hooks.
    plugins_folder: Path = Field(default_factory=lambda: default_home() / "plugins")
    # Unset: `standalone` loads the example DAGs and `scheduler` does not; set, it decides both.
    load_examples: bool | None = None
    # As in Airflow: a DAG the scheduler finds for the first time starts paused.
    dags_are_paused_at_creation: bool = True
    fernet_key: SecretStr | None = None

    @field_validator("load_examples", mode="before")
    @classmethod
    def _check_load_examples(cls, value: Any) -> Any:
        """One clear message for a bad value (the union would report one per branch)."""
        if value is None or isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(
            "give true or false (leave it unset and `standalone` loads the examples while "
            "`scheduler` does not)"
        )

    @field_validator("fernet_key")
    @classmethod
    def _check_fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        # Several keys, newest first, let old secrets be read while new ones use the first.
        for part in value.get_secret_value().split(","):
            try:
                raw = base64.urlsafe_b64decode(part.strip().encode())
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != 32:
                raise ValueError(
                    "a Fernet key is 32 url-safe base64-encoded bytes (44 characters); "
                    "to rotate keys give several, comma-separated, the newest first"
                )
        return value


class DatabaseSettings(_Section):
    """``[database]``: the metadata database and its connection pool."""

    url: str = Field(default_factory=lambda: sqlite_url(default_home()))
    pool_size: int = Field(default=5, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    pool_recycle_s: int = Field(default=1800, ge=-1)
    pool_pre_ping: bool = True
    # PostgreSQL only: how long a connection attempt, a statement, or an idle transaction
    # may last (0: no statement timeout); see docs/deployment.md.
    connect_timeout_s: int = Field(default=10, ge=1, le=3600)
    statement_timeout_s: float = Field(default=30.0, ge=0)
    # Every long-running process logs a database call unanswered this long, and cuts the
    # connection once statement_timeout_s more has passed without an answer.
    stall_warning_s: float = Field(default=5.0, gt=0)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z][A-Za-z0-9+_]*://", value):
            raise ValueError(
                "a database URL looks like sqlite:////path/to/file.db "
                "or postgresql://user@host:5432/dbname"
            )
        return value

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for SQLAlchemy's ``create_engine`` from the pool settings."""
        kwargs: dict[str, Any] = {
            "pool_pre_ping": self.pool_pre_ping,
            "pool_recycle": self.pool_recycle_s,
            "connect_timeout_s": self.connect_timeout_s,
            "statement_timeout_s": self.statement_timeout_s,
        }
        in_memory = self.url.startswith("sqlite") and (
            ":memory:" in self.url or self.url.rstrip("/").endswith(":")
        )
        if not in_memory:
            kwargs.update(pool_size=self.pool_size, max_overflow=self.max_overflow)
        return kwargs


class SchedulerSettings(_Section):
    """``[scheduler]``: the scheduler loop, the executor, and DAG file parsing."""

    # local: tries run as processes of the scheduler's machine; celery: on `millstream worker`
    # processes anywhere, through the broker of [celery] (needs PostgreSQL)
    executor: Literal["local", "celery"] = "local"
    parallelism: int = Field(default=8, ge=1)
    heartbeat_interval_s: float = Field(default=5.0, gt=0)
    zombie_timeout_s: float = Field(default=30.0, gt=0)
    parse_interval_s: float = Field(default=30.0, gt=0)
    file_parse_timeout_s: float = Field(default=30.0, gt=0)
    file_parse_memory_mb: int = Field(default=1024, ge=16)
    max_runs_per_tick: int = Field(default=100, ge=1)
    catchup_by_default: bool = False

    @field_validator("executor", mode="before")
    @classmethod
    def _check_executor(cls, value: Any) -> Any:
        if value in ("local", "celery"):
            return value
        raise ValueError(f"unknown executor {value!r}; allowed: local, celery")

    @model_validator(mode="after")
    def _check_zombie_timeout(self) -> SchedulerSettings:
        if self.zombie_timeout_s <= self.heartbeat_interval_s:
            raise ValueError(
                f"zombie_timeout_s ({self.zombie_timeout_s}) must be longer than "
                f"heartbeat_interval_s ({self.heartbeat_interval_s})"
            )
        return self


class ExecutorSettings(_Section):
    """``[executor]``: the worker processes of the local executor."""

    # Tries a worker process runs, one after another, before it is replaced (1: a fresh
    # process for every try); each worker runs up to a tenth more, so that workers started
    # together are replaced at different times. A try that leaves its worker unhealthy
    # (threads or processes left, memory grown, settings changed) has it replaced sooner.
    tries_per_process: int = Field(default=1000, ge=1)
    # A worker whose resident memory has grown by more than this since it started (what
    # its tries added to what it shares with the DAG file's zygote) is replaced.
    max_memory_growth_mb: int = Field(default=512, ge=16)
    # Tries the local executor takes ahead of its free slots, as a multiple of
    # [scheduler] parallelism (Celery's worker_prefetch_multiplier): they wait in the
    # executor, queued, and each starts the moment a running try ends, not at the next
    # scheduler tick; under load the scheduler then applies ends in batches. Running tries
    # stay within parallelism. 0: queue only to free slots.
    prefetch_multiplier: int = Field(default=1, ge=0, le=16)


class LoggingSettings(_Section):
    """``[logging]``: where task logs are written and how much millstream logs."""

    base_log_folder: Path = Field(default_factory=lambda: default_home() / "logs")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # "json": one JSON object a line, for every service and every task log (with the try's
    # dag, run, task, try and map index in each line of a task log).
    format: Literal["text", "json"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class WebserverSettings(_Section):
    """``[webserver]``: the web UI and REST API server."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (printed at start)
    # Signs CSRF tokens; unset, one is generated into <home>/webserver_secret_key.
    secret_key: SecretStr | None = None
    # Where users reach the server, e.g. https://millstream.example.com (https: secure cookies).
    base_url: str | None = None
    session_lifetime_s: float = Field(default=43200.0, gt=0)
    # A scheduler or triggerer is healthy if its latest heartbeat is at most this old.
    health_check_threshold_s: float = Field(default=30.0, gt=0)
    # Wrong passwords allowed before an account, or a client address, is locked out; each
    # further failure doubles the lockout, from login_lockout_s up to login_lockout_max_s.
    login_failures_per_account: int = Field(default=5, ge=1, le=1000)
    login_failures_per_address: int = Field(default=20, ge=1, le=100000)
    login_lockout_s: float = Field(default=30.0, gt=0, le=86400)
    login_lockout_max_s: float = Field(default=900.0, gt=0, le=7 * 86400)

    @model_validator(mode="after")
    def _lockouts_in_order(self) -> WebserverSettings:
        if self.login_lockout_max_s < self.login_lockout_s:
            raise ValueError("login_lockout_max_s must be at least login_lockout_s")
        return self


class CelerySettings(_Section):
    """``[celery]``: the broker of the Celery executor, and the workers' log servers."""

    broker_url: str = "redis://127.0.0.1:6379/0"
    # Tasks whose queue is left at its default go to this Celery queue.
    default_queue: str = Field(default="default", min_length=1)
    # Tries one `millstream worker` runs at once (its --concurrency overrides it).
    worker_concurrency: int = Field(default=4, ge=1, le=1024)
    # Each worker serves its task logs over HTTP on this port to the web server, which
    # proves itself with the shared secret (unset: logs of other machines are not served).
    log_server_port: int = Field(default=8793, ge=0, le=65535)
    log_server_host: str = "0.0.0.0"
    log_server_secret: SecretStr | None = None

    @field_validator("broker_url")
    @classmethod
    def _check_broker_url(cls, value: str) -> str:
        if not re.match(r"^(redis|rediss|amqp|amqps|pyamqp)://", value):
            raise ValueError(
                "a broker URL looks like redis://127.0.0.1:6379/0 or "
                "amqp://user:password@host:5672//"
            )
        return value


class LimitsSettings(_Section):
    """``[limits]``: the largest request, conf, variable and XCom, and the deepest JSON.

    Every entry point refuses more with a clear error that stores nothing."""

    max_request_bytes: int = Field(default=Limits.max_request_bytes, ge=1024)
    max_json_depth: int = Field(default=Limits.max_json_depth, ge=1, le=500)
    max_conf_bytes: int = Field(default=Limits.max_conf_bytes, ge=2)
    max_value_bytes: int = Field(default=Limits.max_value_bytes, ge=2)
    max_xcom_bytes: int = Field(default=Limits.max_xcom_bytes, ge=2)

    def limits(self) -> Limits:
        """These settings as the model's :class:`Limits`."""
        return Limits(**self.model_dump())


class SecretsSettings(_Section):
    """``[secrets]``: where connections and variables are found besides the database.

    The Fernet key that encrypts them in the database is ``[core] fernet_key``.
    """

    # A JSON or YAML file with "connections" and "variables" mappings, read before the DB.
    secrets_file: Path | None = None


class SmtpSettings(_Section):
    """``[smtp]``: the mail server for failure and retry e-mails and the EmailOperator."""

    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = True  # as in Airflow; a server that does not offer it is an error
    ssl: bool = False  # implicit TLS (usually port 465); starttls is then not used
    user: str | None = None
    password: SecretStr | None = None
    mail_from: str = "millstream@localhost"
    timeout: float = Field(default=30.0, gt=0)


class CompatSettings(_Section):
    """``[compat]``: opt-in compatibility layers for DAG files written for other tools."""

    # Serve `airflow.*` imports from millstream (millstream.compat.airflow).
    airflow: bool = False


class MetricsSettings(_Section):
    """``[metrics]``: Prometheus endpoints and StatsD emission (docs/observability.md).

    The web server serves ``/metrics`` (to this bearer ``token``, or a logged-in admin);
    the scheduler, the worker side of its executor and the triggerer each serve theirs
    on a port of their own when it is set.
    """

    enabled: bool = True  # off: no figure is recorded or sent anywhere
    token: SecretStr | None = None
    host: str = "127.0.0.1"  # where the scheduler, worker and triggerer endpoints listen
    scheduler_port: int | None = Field(default=None, ge=0, le=65535)
    worker_port: int | None = Field(default=None, ge=0, le=65535)
    triggerer_port: int | None = Field(default=None, ge=0, le=65535)
    statsd_host: str | None = None  # set, every figure is also sent to StatsD over UDP
    statsd_port: int = Field(default=8125, ge=1, le=65535)
    statsd_prefix: str = "millstream"
    statsd_datadog_tags: bool = False  # labels as DogStatsD tags instead of name parts

    @field_validator("statsd_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]*", value):
            raise ValueError("a StatsD prefix holds only letters, digits, '_', '-' and '.'")
        return value


class TracingSettings(_Section):
    """``[tracing]``: OpenTelemetry spans of runs, tries and trigger waits (extra ``otel``)."""

    # e.g. http://127.0.0.1:4318/v1/traces; unset, no span is exported.
    otlp_endpoint: str | None = None
    service_name: str = "millstream"
