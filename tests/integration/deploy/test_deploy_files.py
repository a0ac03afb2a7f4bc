"""The deployment files under deploy/: the Dockerfile passes hadolint and builds a non-root
runtime stage, and the compose file, read as ``docker compose config`` reads it (YAML
merge keys, ``${VAR:?}`` and ``${VAR:-default}``), describes the multi-machine layout
with settings millstream accepts and commands it has.

No Docker engine runs here: the files are checked for what they say, and the same layout
runs as plain processes in tests/integration/engine/test_engine_layout.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from millstream.cli.main import app
from millstream.config import load_settings
from tests.integration.deploy.compose_file import (
    DOCKERFILE,
    MILLSTREAM_SERVICES,
    SECRETS,
    MissingVariable,
    compose,
)


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def test_the_secrets_must_be_given() -> None:
    for missing in SECRETS:
        env = {k: v for k, v in SECRETS.items() if k != missing}
        with pytest.raises(MissingVariable, match=missing):
            compose(env)


def test_the_layout_has_every_part_once_and_two_schedulers() -> None:
    found = services()
    assert set(found) == {"postgres", "redis", *MILLSTREAM_SERVICES}
    replicas = {name: found[name].get("deploy", {}).get("replicas", 1) for name in found}
    assert replicas["scheduler"] == 2
    assert replicas["worker"] >= 1
    assert all(replicas[name] == 1 for name in ("webserver", "triggerer", "migrate"))
    commands = {name: found[name]["command"][0] for name in MILLSTREAM_SERVICES}
    assert commands == {"migrate": "db", "webserver": "webserver", "scheduler": "scheduler",
                        "triggerer": "triggerer", "worker": "worker"}
    # Only the web server is reached from outside the project.
    assert [name for name, service in found.items() if service.get("ports")] == ["webserver"]
    port = found["webserver"]["command"][found["webserver"]["command"].index("--port") + 1]
    assert found["webserver"]["ports"] == [f"{port}:{port}"]
    assert "--host" in found["webserver"]["command"]  # listens beyond the container


def test_every_millstream_service_shares_one_image_database_key_and_broker() -> None:
    found = services()
    envs = [found[name]["environment"] for name in sorted(MILLSTREAM_SERVICES)]
    assert all(env == envs[0] for env in envs), "the services disagree on their settings"
    env = envs[0]
    assert {found[name]["build"]["dockerfile"] for name in MILLSTREAM_SERVICES} == {
        "deploy/Dockerfile"}
    assert len({found[name]["image"] for name in MILLSTREAM_SERVICES}) == 1
    database = urlsplit(env["MILLSTREAM__DATABASE__URL"])
    postgres = found["postgres"]["environment"]
    assert (database.hostname, database.port) == ("postgres", 5432)
    assert (database.username, database.password, database.path) == (
        postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], f"/{postgres['POSTGRES_DB']}")
    broker = urlsplit(env["MILLSTREAM__CELERY__BROKER_URL"])
    assert (broker.scheme, broker.hostname) == ("redis", "redis")
    assert env["MILLSTREAM__SCHEDULER__EXECUTOR"] == "celery"
    assert env["MILLSTREAM__CORE__FERNET_KEY"] == SECRETS["MILLSTREAM_FERNET_KEY"]
    assert env["MILLSTREAM__WEBSERVER__SECRET_KEY"] == SECRETS["MILLSTREAM_SECRET_KEY"]
    assert env["MILLSTREAM__CELERY__LOG_SERVER_SECRET"] == SECRETS["MILLSTREAM_LOG_SECRET"]


def test_the_settings_are_ones_millstream_accepts(tmp_path: Path) -> None:
    env = {k: str(v) for k, v in services()["scheduler"]["environment"].items()}
    settings = load_settings(tmp_path, env)
    assert settings.database.url.startswith("postgresql://millstream:pw@postgres:5432/")
    assert settings.scheduler.executor == "celery"
    assert settings.core.dags_are_paused_at_creation is True


def test_the_services_start_in_order_and_migrate_first() -> None:
    found = services()
    healthy = {"condition": "service_healthy"}
    for name in ("postgres", "redis"):
        assert found[name]["healthcheck"]["test"][0] == "CMD"
    assert found["migrate"]["command"] == ["db", "migrate"]
    assert found["migrate"]["restart"] == "no"
    assert found["migrate"]["depends_on"] == {"postgres": healthy}
    for name in MILLSTREAM_SERVICES - {"migrate"}:
        assert found[name]["depends_on"] == {
            "postgres": healthy, "redis": healthy,
            "migrate": {"condition": "service_completed_successfully"}}
        mounts = {volume.split(":")[1] for volume in found[name]["volumes"]}
        assert mounts == {"/opt/millstream/dags", "/var/log/millstream"}
    volumes = set(compose()["volumes"])
    named = {v.split(":")[0] for s in found.values() for v in s.get("volumes", [])
             if not v.startswith((".", "/"))}
    assert named <= volumes


def test_the_commands_exist_in_this_millstream() -> None:
    runner = CliRunner()
    for name in sorted(MILLSTREAM_SERVICES):
        command = services()[name]["command"]
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, f"{name}: millstream {' '.join(command)}\n{result.output}"


def test_the_dockerfile_builds_a_non_root_runtime_with_runtime_extras_only() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = re.findall(r"^FROM \S+ AS (\w+)$", text, flags=re.MULTILINE)
    assert stages == ["build", "runtime"]
    runtime = text.split("AS runtime", 1)[1]
    assert "COPY --from=build /opt/millstream /opt/millstream" in runtime
    assert "pip install" not in runtime  # nothing built or fetched in the runtime stage
    user = re.findall(r"^USER (\S+)$", runtime, flags=re.MULTILINE)
    assert len(user) == 1 and user[0].split(":")[0].isdigit() and user[0].split(":")[0] != "0"
    extras = re.findall(r'pip install [^"]*"\.\[([^\]]+)\]"', text)
    assert extras == ["postgres,celery"]
    assert re.search(r'^ENTRYPOINT \["millstream"\]$', text, flags=re.MULTILINE)


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(hadolint).exists(), "hadolint is missing: it comes with the dev extra"
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
