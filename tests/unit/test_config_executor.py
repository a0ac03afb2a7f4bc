"""The [executor] settings: worker processes' tries and memory, from file or environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from millstream.config import SettingsError, load_settings


def test_workers_run_many_tries_by_default(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.executor.tries_per_process == 1000
    assert settings.executor.max_memory_growth_mb == 512
    assert settings.executor.prefetch_multiplier == 1


def test_one_try_per_process_from_the_file_or_the_environment(tmp_path: Path) -> None:
    (tmp_path / "millstream.toml").write_text("[executor]\ntries_per_process = 1\n")
    assert load_settings(tmp_path, environ={}).executor.tries_per_process == 1
    environ = {"MILLSTREAM__EXECUTOR__TRIES_PER_PROCESS": "7",
               "MILLSTREAM__EXECUTOR__MAX_MEMORY_GROWTH_MB": "512"}
    settings = load_settings(tmp_path, environ=environ)
    assert settings.executor.tries_per_process == 7
    assert settings.executor.max_memory_growth_mb == 512


@pytest.mark.parametrize(("key", "value"), [
    ("TRIES_PER_PROCESS", "0"),
    ("TRIES_PER_PROCESS", "many"),
    ("MAX_MEMORY_GROWTH_MB", "8"),
    ("PREFETCH_MULTIPLIER", "-1"),
    ("PREFETCH_MULTIPLIER", "17"),
])
def test_a_bad_value_names_the_setting_and_the_variable(tmp_path: Path, key: str,
                                                        value: str) -> None:
    variable = f"MILLSTREAM__EXECUTOR__{key}"
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ={variable: value})
    message = str(caught.value)
    assert f"executor.{key.lower()}" in message
    assert variable in message
