"""millstream's settings: defaults, then ``<home>/millstream.toml``, then MILLSTREAM__ env vars.

Every setting lives in a section (``core``, ``database``, ``scheduler``, ``logging``,
``webserver``, ``secrets``, ``smtp``, ``compat``, ``limits``). The file has one TOML table
per section; an env variable ``MILLSTREAM__SECTION__KEY`` (for example
``MILLSTREAM__DATABASE__URL``) overrides the file. The home folder is ``MILLSTREAM_HOME``
(default ``~/.millstream``); the dags folder, the database and the logs default to places
inside it.
``core.fernet_key``, when neither the file nor a variable sets it, is read from
``<home>/fernet.key`` if that file exists.

An unknown section or key, or a value of the wrong kind, is a :class:`SettingsError`
that names the setting and where it came from (the file's path or the variable's name),
so a typo never silently falls back to a default.
"""

from __future__ import annotations

import contextvars
import difflib
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from millstream.config_sections import (
    DEFAULT_HOME,
    HOME_ENV,
    CelerySettings,
    CompatSettings,
    CoreSettings,
    DatabaseSettings,
    ExecutorSettings,
    LimitsSettings,
    LoggingSettings,
    SchedulerSettings,
    SecretsSettings,
    SmtpSettings,
    WebserverSettings,
    default_home,
    sqlite_url,
)
from millstream.exceptions import MillstreamError

DAGS_FOLDER_ENV = "MILLSTREAM_DAGS_FOLDER"
ENV_PREFIX = "MILLSTREAM__"
SETTINGS_FILE = "millstream.toml"
FERNET_KEY_FILE = "fernet.key"
"""Read as ``core.fernet_key`` when no file or variable sets it (``db migrate`` writes it)."""
MASK = "***"
_SECRET_KEYS = frozenset({("core", "fernet_key"), ("webserver", "secret_key"),
                          ("smtp", "password"), ("celery", "log_server_secret")})
_SECRET_QUERY_KEYS = frozenset({"password", "passwd", "pwd", "secret", "token", "sslpassword"})

class SettingsError(MillstreamError):
    """The settings are wrong: each problem names the setting and where its value came from."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass
class _LoadContext:
    """What one load reads from, and where each value it found came from."""

    home: Path
    home_origin: str
    environ: Mapping[str, str]
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def file(self) -> Path:
        return self.home / SETTINGS_FILE


_current_load: contextvars.ContextVar[_LoadContext | None] = contextvars.ContextVar(
    "millstream_settings_load", default=None
)


class Settings(BaseSettings):
    """All of millstream's settings, one attribute per section.

    Build it with :func:`load_settings`; ``Settings()`` does the same with the home and the
    environment of this process.
    """

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    core: CoreSettings = Field(default_factory=CoreSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    webserver: WebserverSettings = Field(default_factory=WebserverSettings)
    secrets: SecretsSettings = Field(default_factory=SecretsSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    compat: CompatSettings = Field(default_factory=CompatSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    celery: CelerySettings = Field(default_factory=CelerySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Highest priority first: explicit arguments, env vars, the TOML file, the home."""
        context = _current_load.get() or _context_for(None, os.environ)
        return (
            init_settings,
            _EnvSource(settings_cls, context),
            _TomlSource(settings_cls, context),
            _HomeSource(settings_cls, context),
        )

    @model_validator(mode="before")
    @classmethod
    def _place_in_home(cls, data: Any) -> Any:
        """Defaults that live inside the home folder follow the home that was chosen."""
        if not isinstance(data, dict):
            return data
        data = {name: dict(value) if isinstance(value, Mapping) else value
                for name, value in data.items()}
        core = data.setdefault("core", {})
        if not isinstance(core, dict):
            return data
        home = Path(str(core.get("home") or default_home())).expanduser()
        core["home"] = home
        core.setdefault("dags_folder", home / "dags")
        for section, key, default in (
            ("database", "url", sqlite_url(home)),
            ("logging", "base_log_folder", home / "logs"),
        ):
            values = data.setdefault(section, {})
            if isinstance(values, dict):
                values.setdefault(key, default)
        return data

    def masked(self) -> dict[str, dict[str, Any]]:
        """Every setting as JSON-ready data, grouped by section, with secrets shown as ***.

        Unset secrets stay ``None``; a password in the database URL is replaced by ***.
        """
        result: dict[str, dict[str, Any]] = {}
        for section in type(self).model_fields:
            values = getattr(self, section).model_dump(mode="json")
            for key, value in values.items():
                if (section, key) in _SECRET_KEYS and value is not None:
                    values[key] = MASK
            if section == "database":
                values["url"] = mask_url(values["url"])
            if section == "celery":
                values["broker_url"] = mask_url(values["broker_url"])
            result[section] = values
        return result


def mask_url(url: str) -> str:
    """``url`` with its password (and password-like query parameters) replaced by ***."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    masked = url
    if password is not None:
        userinfo, _, hostinfo = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        masked = masked.replace(f"//{parts.netloc}", f"//{user}:{MASK}@{hostinfo}", 1)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(k.lower() in _SECRET_QUERY_KEYS for k, _ in pairs):
            query = urlencode(
                [(k, MASK if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs],
                safe="*",
            )
            masked = masked.replace(f"?{parts.query}", f"?{query}", 1)
    return masked


def load_settings(home: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """The effective settings: defaults, then ``<home>/millstream.toml``, then env vars.

    ``home`` defaults to ``MILLSTREAM__CORE__HOME``, else ``MILLSTREAM_HOME``, else
    ``~/.millstream``; ``environ`` defaults to this process's environment. Raises
    :class:`SettingsError` naming every unknown or bad setting and where it came from.
    """
    context = _context_for(home, os.environ if environ is None else environ)
    token = _current_load.set(context)
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError([_describe(error, context) for error in exc.errors()]) from None
    finally:
        _current_load.reset(token)


def _context_for(home: Path | None, environ: Mapping[str, str]) -> _LoadContext:
    if home is not None:
        return _LoadContext(Path(home).expanduser(), "the home argument", environ)
    for name in (f"{ENV_PREFIX}CORE__HOME", HOME_ENV):
        if environ.get(name):
            return _LoadContext(Path(environ[name]).expanduser(), f"env var {name}", environ)
    return _LoadContext(Path(DEFAULT_HOME).expanduser(), "the default home", environ)


def _describe(error: Any, context: _LoadContext) -> str:
    """One ValidationError entry as 'section.key = value (from where): what is wrong'."""
    loc = tuple(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if len(loc) < 2:
        name = ".".join(loc) or "settings"
        origins = {o for (s, _), o in context.origins.items() if not loc or s == loc[0]}
        where = f" (from {', '.join(sorted(origins))})" if origins else ""
        return f"bad settings in [{name}]{where}: {message}"
    section, key = loc[0], loc[1]
    origin = context.origins.get((section, key), "the defaults")
    value = error.get("input")
    if (section, key) in _SECRET_KEYS:
        shown = MASK
    elif section == "database" and key == "url" and isinstance(value, str):
        shown = repr(mask_url(value))
    else:
        shown = repr(value)
    return f"bad setting {section}.{key} = {shown} (from {origin}): {message}"


def _sections() -> dict[str, type[BaseModel]]:
    sections: dict[str, type[BaseModel]] = {}
    for name, info in Settings.model_fields.items():
        annotation = info.annotation
        assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
        sections[name] = annotation
    return sections


def _unknown(kind: str, name: str, known: Iterator[str] | list[str], origin: str) -> str:
    choices = sorted(known)
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {kind} {name!r} (from {origin}): {hint}known: {', '.join(choices)}"


class _Source(PydanticBaseSettingsSource):
    """A settings source that reads everything at once; the per-field hook is unused."""

    def __init__(self, settings_cls: type[BaseSettings], context: _LoadContext) -> None:
        super().__init__(settings_cls)
        self.context = context

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        raise NotImplementedError


class _HomeSource(_Source):
    """The home folder, and the dags folder from the loader's MILLSTREAM_DAGS_FOLDER.

    Sources are read in priority order, so this one comes last: it reports the unknown
    settings that the env and file sources found, all at once.
    """

    def __call__(self) -> dict[str, Any]:
        if self.context.problems:
            raise SettingsError(self.context.problems)
        core: dict[str, Any] = {"home": str(self.context.home)}
        self.context.origins.setdefault(("core", "home"), self.context.home_origin)
        folder = self.context.environ.get(DAGS_FOLDER_ENV)
        if folder:
            core["dags_folder"] = folder
            self.context.origins.setdefault(("core", "dags_folder"), f"env var {DAGS_FOLDER_ENV}")
        key_file = self.context.home / FERNET_KEY_FILE
        try:
            core["fernet_key"] = key_file.read_text(encoding="ascii").strip()
            self.context.origins.setdefault(("core", "fernet_key"), str(key_file))
        except FileNotFoundError:
            pass
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError([f"cannot read the Fernet key file {key_file}: {exc}"]) from None
        return {"core": core}


class _TomlSource(_Source):
    """``<home>/millstream.toml``: one table per section; a missing file means no settings."""

    def __call__(self) -> dict[str, Any]:
        path = self.context.file
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError([f"cannot read settings file {path}: {exc}"]) from None
        sections = _sections()
        problems: list[str] = []
        result: dict[str, Any] = {}
        for section, values in data.items():
            if section not in sections:
                problems.append(_unknown("section", section, list(sections), str(path)))
                continue
            if not isinstance(values, dict):
                problems.append(
                    f"setting {section!r} in {path} must be a table: write [{section}] "
                    "and put its keys under it"
                )
                continue
            keys = sections[section].model_fields
            for key in values:
                if key not in keys:
                    problems.append(_unknown(f"key in [{section}]", key, list(keys), str(path)))
                elif (section, key) == ("core", "home"):
                    problems.append(
                        f"core.home cannot be set in {path}, which is found through it: "
                        f"set {HOME_ENV} instead"
                    )
                else:
                    self.context.origins.setdefault((section, key), str(path))
            result[section] = {k: v for k, v in values.items() if k in keys}
        self.context.problems.extend(problems)
        return result


class _EnvSource(_Source):
    """``MILLSTREAM__SECTION__KEY`` variables (section and key in any letter case)."""

    def __call__(self) -> dict[str, Any]:
        sections = _sections()
        problems: list[str] = []
        result: dict[str, dict[str, Any]] = {}
        for name in sorted(self.context.environ):
            if not name.upper().startswith(ENV_PREFIX):
                continue
            parts = name[len(ENV_PREFIX):].lower().split("__")
            origin = f"env var {name}"
            if len(parts) != 2 or not all(parts):
                problems.append(
                    f"bad settings variable {name}: use {ENV_PREFIX}SECTION__KEY, "
                    f"e.g. {ENV_PREFIX}DATABASE__URL"
                )
                continue
            section, key = parts
            if section not in sections:
                problems.append(_unknown("section", section, list(sections), origin))
            elif key not in sections[section].model_fields:
                keys = list(sections[section].model_fields)
                problems.append(_unknown(f"key in [{section}]", key, keys, origin))
            elif (section, key) != ("core", "home"):  # the home was chosen before any source
                self.context.origins[(section, key)] = origin
                result.setdefault(section, {})[key] = self.context.environ[name]
        self.context.problems.extend(problems)
        return result


__all__ = [
    "CelerySettings",
    "CompatSettings",
    "CoreSettings",
    "DatabaseSettings",
    "ExecutorSettings",
    "LoggingSettings",
    "SchedulerSettings",
    "SecretsSettings",
    "Settings",
    "SettingsError",
    "SmtpSettings",
    "WebserverSettings",
    "load_settings",
    "mask_url",
]
