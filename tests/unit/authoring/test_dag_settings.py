"""A DAG's defaults that come from settings: catchup from scheduler.catchup_by_default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from millstream import DAG, dag
from millstream.config import SettingsError

SETTING = "MILLSTREAM__SCHEDULER__CATCHUP_BY_DEFAULT"


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILLSTREAM_HOME", str(tmp_path))
    monkeypatch.delenv(SETTING, raising=False)


def test_a_dag_that_does_not_say_takes_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DAG("unsaid").catchup is False
    assert DAG("unsaid").catchup_given is False
    monkeypatch.setenv(SETTING, "true")
    assert DAG("unsaid").catchup is True

    @dag(schedule="@daily")
    def decorated() -> None:
        pass

    assert decorated().catchup is True


@pytest.mark.parametrize("setting", ["true", "false"])
@pytest.mark.parametrize("given", [True, False])
def test_a_dag_that_says_keeps_its_own(
    monkeypatch: pytest.MonkeyPatch, setting: str, given: bool
) -> None:
    monkeypatch.setenv(SETTING, setting)
    the_dag = DAG("says", catchup=given)
    assert the_dag.catchup is given
    assert the_dag.catchup_given is True


def test_the_setting_may_come_from_the_settings_file(tmp_path: Path) -> None:
    (tmp_path / "millstream.toml").write_text("[scheduler]\ncatchup_by_default = true\n")
    assert DAG("unsaid").catchup is True


def test_a_bad_setting_is_named_when_a_dag_needs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTING, "sometimes")
    with pytest.raises(SettingsError, match=f"scheduler.catchup_by_default.*{SETTING}"):
        DAG("unsaid")
    assert DAG("says", catchup=False).catchup is False  # not read when the DAG says


def test_importing_millstream_does_not_load_the_settings() -> None:
    code = "import sys, millstream; print('millstream.config' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == "False"
