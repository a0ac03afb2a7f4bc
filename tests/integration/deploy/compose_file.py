"""Reading deploy/compose.yaml as ``docker compose config`` does: YAML merge keys, and the
interpolation of ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
SECRETS = {"POSTGRES_PASSWORD": "pw", "MILLSTREAM_FERNET_KEY": "k" * 43 + "=",
           "MILLSTREAM_SECRET_KEY": "secret", "MILLSTREAM_LOG_SECRET": "log-secret"}
MILLSTREAM_SERVICES = {"migrate", "webserver", "scheduler", "triggerer", "worker"}
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:[?-])(?P<arg>[^}]*))?\}")


class MissingVariable(Exception):
    pass


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation of ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}``."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.group("name", "op", "arg")
        if env.get(name):
            return env[name]
        if op == ":-":
            return arg
        if op == ":?":
            raise MissingVariable(f"{name}: {arg}")
        return ""

    return _VARIABLE.sub(replace, value)


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return interpolate(loaded, SECRETS if env is None else env)  # type: ignore[no-any-return]
