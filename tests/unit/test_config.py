"""Settings: defaults in the home, file then env precedence, errors naming their source, masking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from millstream.cli.config import config_app
from millstream.config import Settings, SettingsError, load_settings, mask_url

FERNET_KEY = "Y" * 43 + "="


def write_settings(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "millstream.toml"
    path.write_text(text)
    return path


def test_defaults_live_in_the_home(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.core.home == tmp_path
    assert settings.core.dags_folder == tmp_path / "dags"
    assert settings.core.load_examples is None  # standalone loads them, scheduler does not
    assert settings.core.dags_are_paused_at_creation is True
    assert settings.core.fernet_key is None
    assert settings.database.url == f"sqlite:///{tmp_path}/millstream.db"
    assert settings.logging.base_log_folder == tmp_path / "logs"
    assert settings.scheduler.parallelism == 8
    assert settings.scheduler.executor == "local"
    assert settings.scheduler.heartbeat_interval_s == 5
    assert settings.scheduler.zombie_timeout_s == 30
    assert settings.scheduler.file_parse_timeout_s == 30
    assert settings.scheduler.file_parse_memory_mb == 1024
    assert settings.scheduler.catchup_by_default is False
    assert settings.webserver.port == 8080


def test_home_comes_from_millstream_home(tmp_path: Path) -> None:
    settings = load_settings(environ={"MILLSTREAM_HOME": str(tmp_path)})
    assert settings.core.home == tmp_path
    assert settings.database.url.endswith(f"{tmp_path}/millstream.db")


def test_file_then_env_precedence(tmp_path: Path) -> None:
    write_settings(tmp_path, """
[scheduler]
parallelism = 4
max_runs_per_tick = 3

[webserver]
port = 9000

[database]
url = "postgresql://millstream@db:5432/millstream"
""")
    env = {"MILLSTREAM__SCHEDULER__PARALLELISM": "6", "MILLSTREAM__CORE__LOAD_EXAMPLES": "true"}
    settings = load_settings(tmp_path, environ=env)
    assert settings.scheduler.parallelism == 6  # env beats file
    assert settings.scheduler.max_runs_per_tick == 3  # file beats default
    assert settings.webserver.port == 9000
    assert settings.core.load_examples is True
    assert settings.database.url == "postgresql://millstream@db:5432/millstream"
    assert settings.core.dags_folder == tmp_path / "dags"  # untouched defaults still follow home


def test_env_section_and_key_in_any_case(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"MILLSTREAM__logging__Level": "debug"})
    assert settings.logging.level == "DEBUG"


def test_dags_folder_env_of_the_loader_is_honoured_but_loses_to_the_setting(
    tmp_path: Path,
) -> None:
    env = {"MILLSTREAM_DAGS_FOLDER": str(tmp_path / "legacy")}
    assert load_settings(tmp_path, environ=env).core.dags_folder == tmp_path / "legacy"
    env["MILLSTREAM__CORE__DAGS_FOLDER"] = str(tmp_path / "chosen")
    assert load_settings(tmp_path, environ=env).core.dags_folder == tmp_path / "chosen"


def test_unknown_key_in_file_names_key_and_file(tmp_path: Path) -> None:
    path = write_settings(tmp_path, "[scheduler]\nparalelism = 4\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ={})
    message = str(caught.value)
    assert "'paralelism'" in message
    assert str(path) in message
    assert "did you mean 'parallelism'" in message


def test_unknown_section_in_file(tmp_path: Path) -> None:
    path = write_settings(tmp_path, "[schedular]\nparallelism = 4\n")
    with pytest.raises(SettingsError, match=r"unknown section 'schedular'") as caught:
        load_settings(tmp_path, environ={})
    assert str(path) in str(caught.value)


def test_top_level_key_in_file_must_be_a_section(tmp_path: Path) -> None:
    write_settings(tmp_path, 'core = "x"\n')
    with pytest.raises(SettingsError, match=r"must be a table"):
        load_settings(tmp_path, environ={})


def test_home_cannot_be_set_in_the_file_found_through_it(tmp_path: Path) -> None:
    write_settings(tmp_path, '[core]\nhome = "/elsewhere"\n')
    with pytest.raises(SettingsError, match="MILLSTREAM_HOME"):
        load_settings(tmp_path, environ={})


def test_unknown_key_in_env_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ={"MILLSTREAM__DATABASE__URI": "sqlite://"})
    message = str(caught.value)
    assert "MILLSTREAM__DATABASE__URI" in message
    assert "'uri'" in message


def test_unknown_section_and_malformed_name_in_env(tmp_path: Path) -> None:
    env = {"MILLSTREAM__NOPE__X": "1", "MILLSTREAM__PORT": "1", "OTHER__THING": "ignored"}
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ=env)
    assert "MILLSTREAM__NOPE__X" in str(caught.value)
    assert "MILLSTREAM__PORT" in str(caught.value)
    assert len(caught.value.problems) == 2


def test_problems_from_file_and_env_are_reported_together(tmp_path: Path) -> None:
    write_settings(tmp_path, "[webserver]\nprot = 1\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ={"MILLSTREAM__WEBSERVER__HOTS": "x"})
    assert len(caught.value.problems) == 2


def test_bad_value_in_file_names_setting_and_file(tmp_path: Path) -> None:
    path = write_settings(tmp_path, '[scheduler]\nparallelism = "lots"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ={})
    message = str(caught.value)
    assert "scheduler.parallelism" in message
    assert "'lots'" in message
    assert str(path) in message


def test_bad_value_in_env_names_setting_and_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ={"MILLSTREAM__WEBSERVER__PORT": "99999"})
    assert "webserver.port" in str(caught.value)
    assert "MILLSTREAM__WEBSERVER__PORT" in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MILLSTREAM__SCHEDULER__EXECUTOR", "kubernetes"),
        ("MILLSTREAM__CORE__DAGS_ARE_PAUSED_AT_CREATION", "sometimes"),
        ("MILLSTREAM__LOGGING__LEVEL", "loud"),
        ("MILLSTREAM__CORE__LOAD_EXAMPLES", "perhaps"),
        ("MILLSTREAM__DATABASE__URL", "not a url"),
        ("MILLSTREAM__SCHEDULER__PARALLELISM", "0"),
    ],
)
def test_bad_values_are_rejected(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(tmp_path, environ={variable: value})


def test_zombie_timeout_must_exceed_heartbeat(tmp_path: Path) -> None:
    env = {"MILLSTREAM__SCHEDULER__ZOMBIE_TIMEOUT_S": "3"}
    with pytest.raises(SettingsError, match="must be longer than heartbeat_interval_s") as caught:
        load_settings(tmp_path, environ=env)
    assert "MILLSTREAM__SCHEDULER__ZOMBIE_TIMEOUT_S" in str(caught.value)


def test_bad_secret_is_named_but_never_shown(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ={"MILLSTREAM__CORE__FERNET_KEY": "hunter2"})
    assert "core.fernet_key" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_unreadable_toml_names_the_file(tmp_path: Path) -> None:
    path = write_settings(tmp_path, "[scheduler\nparallelism = 4\n")
    with pytest.raises(SettingsError, match="cannot read settings file") as caught:
        load_settings(tmp_path, environ={})
    assert str(path) in str(caught.value)


def test_masked_hides_secrets_and_database_passwords(tmp_path: Path) -> None:
    env = {
        "MILLSTREAM__CORE__FERNET_KEY": FERNET_KEY,
        "MILLSTREAM__WEBSERVER__SECRET_KEY": "web-secret",
        "MILLSTREAM__DATABASE__URL": "postgresql://ms:pg-pass@db:5432/ms?sslpassword=ssl-pass",
    }
    settings = load_settings(tmp_path, environ=env)
    masked = settings.masked()
    assert masked["core"]["fernet_key"] == "***"
    assert masked["webserver"]["secret_key"] == "***"
    assert masked["database"]["url"] == "postgresql://ms:***@db:5432/ms?sslpassword=***"
    text = json.dumps(masked)
    assert "pg-pass" not in text and "web-secret" not in text and FERNET_KEY not in text
    assert masked["scheduler"]["parallelism"] == 8
    # the real values are still there for the code that needs them
    assert settings.core.fernet_key is not None
    assert settings.core.fernet_key.get_secret_value() == FERNET_KEY
    assert "pg-pass" in settings.database.url


def test_masked_leaves_unset_secrets_and_plain_urls_alone(tmp_path: Path) -> None:
    masked = load_settings(tmp_path, environ={}).masked()
    assert masked["core"]["fernet_key"] is None
    assert masked["database"]["url"] == f"sqlite:///{tmp_path}/millstream.db"
    assert mask_url("postgresql://ms@db/ms") == "postgresql://ms@db/ms"


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    with pytest.raises(ValueError):
        settings.scheduler.parallelism = 3  # type: ignore[misc]


def test_settings_constructor_reads_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MILLSTREAM_HOME", str(tmp_path))
    monkeypatch.setenv("MILLSTREAM__SCHEDULER__PARALLELISM", "3")
    settings = Settings()
    assert settings.core.home == tmp_path
    assert settings.scheduler.parallelism == 3


def test_engine_kwargs_follow_pool_settings(tmp_path: Path) -> None:
    env = {"MILLSTREAM__DATABASE__POOL_SIZE": "7"}
    kwargs = load_settings(tmp_path, environ=env).database.engine_kwargs()
    assert kwargs["pool_size"] == 7
    memory = load_settings(tmp_path, environ={"MILLSTREAM__DATABASE__URL": "sqlite://"})
    assert "pool_size" not in memory.database.engine_kwargs()


# --- millstream config show ---------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    import os

    for name in list(os.environ):
        if name.upper().startswith("MILLSTREAM"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MILLSTREAM_HOME", str(tmp_path))
    app = typer.Typer()
    app.add_typer(config_app, name="config")
    return app


def test_config_show_prints_sections_masked(cli: typer.Typer, tmp_path: Path) -> None:
    write_settings(tmp_path, "[scheduler]\nparallelism = 5\n")
    env = {
        "MILLSTREAM__WEBSERVER__SECRET_KEY": "web-secret",
        "MILLSTREAM__DATABASE__URL": "postgresql://ms:pg-pass@db/ms",
    }
    result = CliRunner().invoke(cli, ["config", "show"], env=env)
    assert result.exit_code == 0, result.output
    for section in ("[core]", "[database]", "[scheduler]", "[logging]", "[webserver]"):
        assert section in result.output
    assert "parallelism" in result.output and "5" in result.output
    assert "postgresql://ms:***@db/ms" in result.output
    assert "web-secret" not in result.output and "pg-pass" not in result.output


def test_config_show_json(cli: typer.Typer, tmp_path: Path) -> None:
    env = {"MILLSTREAM__CORE__FERNET_KEY": FERNET_KEY}
    result = CliRunner().invoke(cli, ["config", "show", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["core"]["fernet_key"] == "***"
    assert data["core"]["home"] == str(tmp_path)
    assert data["scheduler"]["parallelism"] == 8


def test_config_show_bad_settings_is_one_line_and_exit_2(cli: typer.Typer) -> None:
    env = {"MILLSTREAM__SCHEDULER__PARALLELISM": "many"}
    result = CliRunner().invoke(cli, ["config", "show"], env=env)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("Error:")
    assert "MILLSTREAM__SCHEDULER__PARALLELISM" in lines[0]
    assert "Traceback" not in result.output
