"""The Airflow compatibility layer in one process: enabling, the table, errors, semantics."""

from __future__ import annotations

import importlib
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import millstream
from millstream.compat import airflow as airflow_compat
from millstream.compat.airflow_modules import (
    MODULES,
    PACKAGES,
    UNSUPPORTED,
    names_of,
    unsupported,
)
from millstream.config import SettingsError, load_settings
from millstream.exceptions import (
    MillstreamError,
    SensorTimeout,
    TaskFailedNoRetry,
    TaskSkipped,
)
from millstream.parsing import DagImportError, load_dag_file

NAMES = [(module, name) for module, names in MODULES.items() for name in sorted(names)
         if not names[name].startswith("!")]


def import_airflow(name: str) -> object:
    return importlib.import_module(name)


# -- enabling and disabling -------------------------------------------------------------------
def test_airflow_is_not_importable_until_enabled() -> None:
    assert not airflow_compat.is_enabled()
    with pytest.raises(ModuleNotFoundError) as caught:
        import_airflow("airflow")
    assert caught.value.name == "airflow"


def test_enable_is_idempotent_and_disable_forgets_every_served_module() -> None:
    airflow_compat.enable()
    airflow_compat.enable()
    finders = [f for f in sys.meta_path if "Airflow compatibility" in repr(f)]
    assert len(finders) == 1 and sys.meta_path[0] is finders[0]
    dag_class = import_airflow("airflow.models").DAG  # type: ignore[attr-defined]
    assert dag_class is millstream.DAG
    assert "airflow.models" in sys.modules

    airflow_compat.disable()

    assert not airflow_compat.is_enabled()
    assert not [name for name in sys.modules if name.split(".")[0] == "airflow"]
    with pytest.raises(ModuleNotFoundError):
        import_airflow("airflow.models")


def test_no_airflow_package_exists_on_disk() -> None:
    airflow_compat.enable()
    module = import_airflow("airflow.operators.python")
    assert getattr(module, "__file__", None) is None
    assert module.__path__ == []  # type: ignore[attr-defined]


# -- the table: every module and every name ---------------------------------------------------
@pytest.mark.parametrize("module", sorted(PACKAGES))
def test_every_module_of_the_table_imports(module: str) -> None:
    airflow_compat.enable()
    imported = import_airflow(module)
    assert imported.__name__ == module
    assert sorted(imported.__all__) == names_of(module)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("module", "name"), NAMES, ids=[f"{m}:{n}" for m, n in NAMES])
def test_every_name_of_the_table_is_its_millstream_object(module: str, name: str) -> None:
    airflow_compat.enable()
    namespace: dict[str, object] = {}
    exec(f"from {module} import {name}", namespace)
    where, _, attribute = MODULES[module][name].partition(":")
    assert namespace[name] is getattr(importlib.import_module(where), attribute)


def test_an_unsupported_name_says_what_feature_it_is_and_what_to_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every name of the table is supported today; the mechanism stays for the next one.
    table = {module: dict(names) for module, names in MODULES.items()}
    table["airflow.sdk"]["TeleportOperator"] = unsupported("teleporting data",
                                                           "copy it with a BashOperator")
    monkeypatch.setattr(airflow_compat, "MODULES", table)
    airflow_compat.enable()
    with pytest.raises(ImportError) as info:
        exec("from airflow.sdk import TeleportOperator", {})
    message = str(info.value)
    assert "\n" not in message
    assert "does not support teleporting data (TeleportOperator from airflow.sdk): copy it " \
        "with a BashOperator" in message


@pytest.mark.parametrize("module", sorted(UNSUPPORTED))
def test_an_unsupported_module_says_what_feature_it_is(module: str) -> None:
    airflow_compat.enable()
    feature, instead = UNSUPPORTED[module]
    with pytest.raises(ImportError) as info:
        import_airflow(f"{module}.anything")
    assert feature in str(info.value) and instead in str(info.value)


def test_airflow_2_and_3_homes_serve_the_same_objects() -> None:
    airflow_compat.enable()
    from airflow.operators.python import PythonOperator as Old  # type: ignore[import-not-found]
    from airflow.providers.standard.operators.python import (  # type: ignore[import-not-found]
        PythonOperator as New,
    )
    from airflow.sdk import DAG, Asset, BaseSensorOperator  # type: ignore[import-not-found]

    assert Old is New
    assert DAG is millstream.DAG
    assert Asset is millstream.Asset
    from airflow.sensors.base import BaseSensorOperator as Sensor  # type: ignore[import-not-found]

    assert BaseSensorOperator is Sensor


# -- what is not supported --------------------------------------------------------------------
def test_an_unsupported_module_is_named_with_what_is_supported() -> None:
    airflow_compat.enable()
    with pytest.raises(ImportError) as caught:
        exec("from airflow.providers.amazon.aws.hooks.s3 import S3Hook", {})
    message = str(caught.value)
    assert "millstream's Airflow compatibility does not support airflow.providers.amazon " \
        "(module)" in message
    assert "airflow.providers.postgres.hooks.postgres" in message
    assert "docs/migrating-from-airflow.md" in message


def test_an_unsupported_name_is_named_with_the_names_its_module_has() -> None:
    airflow_compat.enable()
    with pytest.raises(ImportError) as caught:
        exec("from airflow.operators.python import PythonPreexistingOperator", {})
    message = str(caught.value)
    assert "does not support PythonPreexistingOperator from airflow.operators.python" in message
    assert "BranchPythonOperator, BranchPythonVirtualenvOperator" in message


def test_a_misspelt_module_gets_a_suggestion() -> None:
    airflow_compat.enable()
    with pytest.raises(ImportError, match=r"did you mean airflow\.operators\.python\?"):
        exec("import airflow.operators.pyhton", {})


def test_attribute_access_to_an_unsupported_name_is_an_attribute_error_naming_it() -> None:
    airflow_compat.enable()
    module = import_airflow("airflow.exceptions")
    assert not hasattr(module, "AirflowClusterPolicyViolation")
    with pytest.raises(AttributeError, match="does not support AirflowClusterPolicyViolation"):
        module.AirflowClusterPolicyViolation  # type: ignore[attr-defined]  # noqa: B018


def test_unsupported_task_decorators_are_named() -> None:
    airflow_compat.enable()
    from airflow.decorators import task  # type: ignore[import-not-found]

    with pytest.raises(AttributeError, match=r"does not support @task\.docker"):
        task.docker  # noqa: B018


def test_a_name_whose_millstream_target_is_missing_is_a_clear_import_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = {**MODULES, "airflow.providers.future": {"FutureHook": "millstream.hooks.future:Hook"}}
    monkeypatch.setattr(airflow_compat, "MODULES", table)
    monkeypatch.setattr(airflow_compat, "PACKAGES", PACKAGES | {"airflow.providers.future"})
    monkeypatch.setattr("millstream.compat.airflow_modules.MODULES", table)
    airflow_compat.enable()
    with pytest.raises(ImportError) as caught:
        exec("from airflow.providers.future import FutureHook", {})
    assert not isinstance(caught.value, AttributeError)
    assert "does not support FutureHook from airflow.providers.future yet" in str(caught.value)
    assert "millstream.hooks.future.Hook is not available" in str(caught.value)


# -- refusing to shadow a real Airflow --------------------------------------------------------
def test_enable_refuses_when_an_airflow_package_is_importable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = tmp_path / "site" / "airflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("# stands in for an Apache Airflow installation\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()

    with pytest.raises(airflow_compat.AirflowCompatError) as caught:
        airflow_compat.enable()

    message = str(caught.value)
    assert "the real Apache Airflow is installed in this environment" in message
    assert str(fake / "__init__.py") in message
    assert "uninstall it or turn compat.airflow off" in message
    assert not airflow_compat.is_enabled()


def test_a_plain_folder_named_airflow_is_not_an_installation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The guide's own project layout is a folder called airflow/ holding dags/.
    (tmp_path / "project" / "airflow" / "dags").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(tmp_path / "project"))
    importlib.invalidate_caches()

    airflow_compat.enable()

    assert import_airflow("airflow").DAG is millstream.DAG  # type: ignore[attr-defined]


# -- the setting ------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("YES", True),
                                                 ("false", False), ("0", False)])
def test_the_env_var_turns_the_layer_on(value: str, expected: bool) -> None:
    assert airflow_compat.configured({airflow_compat.ENV_VAR: value}) is expected


def test_a_bad_env_value_is_named() -> None:
    with pytest.raises(airflow_compat.AirflowCompatError,
                       match=r"compat\.airflow = 'maybe' \(from env var MILLSTREAM__COMPAT__"):
        airflow_compat.configured({airflow_compat.ENV_VAR: "maybe"})


def test_the_settings_file_turns_the_layer_on(layer_off: Path) -> None:
    settings_file = layer_off / "millstream.toml"
    environ = {"MILLSTREAM_HOME": str(layer_off)}
    assert airflow_compat.configured(environ) is False
    settings_file.write_text("[compat]\nairflow = true\n")
    assert airflow_compat.configured(environ) is True
    assert load_settings(layer_off, {}).compat.airflow is True
    settings_file.write_text("[compat]\nairflow = false\n")
    assert airflow_compat.configured(environ) is False


def test_the_settings_know_the_compat_section(layer_off: Path) -> None:
    assert load_settings(layer_off, {}).compat.airflow is False
    assert load_settings(layer_off, {airflow_compat.ENV_VAR: "true"}).compat.airflow is True
    with pytest.raises(SettingsError, match=r"compat\.airflow"):
        load_settings(layer_off, {airflow_compat.ENV_VAR: "sometimes"})


# -- loading DAG files ------------------------------------------------------------------------
AIRFLOW_FILE = """
from datetime import datetime
from airflow import DAG
from airflow.operators.empty import EmptyOperator

with DAG("airflow_style", schedule_interval="@daily", start_date=datetime(2026, 1, 1)) as dag:
    EmptyOperator(task_id="only")
"""


def test_without_the_setting_an_airflow_file_fails_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "airflow_style.py"
    path.write_text(AIRFLOW_FILE)
    with pytest.raises(DagImportError) as caught:
        load_dag_file(path)
    assert "No module named 'airflow'" in caught.value.summary
    assert "set compat.airflow = true" in caught.value.summary
    assert "MILLSTREAM__COMPAT__AIRFLOW=true" in caught.value.message


def test_with_the_setting_the_loader_enables_the_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "airflow_style.py"
    path.write_text(AIRFLOW_FILE)
    monkeypatch.setenv(airflow_compat.ENV_VAR, "true")
    dags = load_dag_file(path)
    assert dags["airflow_style"].schedule_interval == "@daily"
    assert airflow_compat.is_enabled()


def test_the_dag_folder_scan_finds_airflow_files_but_not_helpers(tmp_path: Path) -> None:
    from millstream.parsing import iter_dag_files

    (tmp_path / "airflow_style.py").write_text(AIRFLOW_FILE)
    (tmp_path / "notes.py").write_text('"""Ported from Airflow: see the dag docs."""\n')
    assert [p.name for p in iter_dag_files(tmp_path)] == ["airflow_style.py"]


# -- semantics of the Airflow names -----------------------------------------------------------
def test_airflow_exceptions_have_millstream_effects() -> None:
    airflow_compat.enable()
    from airflow.exceptions import (  # type: ignore[import-not-found]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )

    assert issubclass(AirflowSkipException, TaskSkipped)
    assert issubclass(AirflowFailException, TaskFailedNoRetry)
    assert issubclass(AirflowSensorTimeout, SensorTimeout)
    assert AirflowException is MillstreamError
    for error in (AirflowSkipException, AirflowFailException, AirflowSensorTimeout):
        assert issubclass(error, AirflowException)

    from airflow import DAG  # type: ignore[import-not-found]
    from airflow.operators.python import PythonOperator  # type: ignore[import-not-found]

    def raise_(error: type[BaseException]) -> object:
        def callable_() -> None:
            raise error("on purpose")
        return callable_

    with DAG("exceptions", schedule=None, start_date=datetime(2026, 1, 1),
             default_args={"retries": 2, "retry_delay": timedelta(seconds=1)}) as dag:
        PythonOperator(task_id="skip", python_callable=raise_(AirflowSkipException))
        PythonOperator(task_id="fail_now", python_callable=raise_(AirflowFailException))
        PythonOperator(task_id="generic", python_callable=raise_(AirflowException))
    result = dag.test(logical_date="2026-01-01", fast_retries=True)
    by_id = {t.label: t for t in result.tasks}
    assert (by_id["skip"].state, by_id["skip"].tries) == ("skipped", 1)
    assert (by_id["fail_now"].state, by_id["fail_now"].tries) == ("failed", 1)
    # as in Airflow, a plain AirflowException is an ordinary failure: it is retried
    assert (by_id["generic"].state, by_id["generic"].tries) == ("failed", 3)


def test_custom_operator_in_airflow_style(caplog: pytest.LogCaptureFixture) -> None:
    airflow_compat.enable()
    from airflow.models import BaseOperator, Variable  # type: ignore[import-not-found]
    from airflow.models.dag import DAG  # type: ignore[import-not-found]
    from airflow.utils.decorators import apply_defaults  # type: ignore[import-not-found]

    class GreetOperator(BaseOperator):
        template_fields = ("name",)

        @apply_defaults
        def __init__(self, name: str, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            self.name = name

        def execute(self, context: dict[str, object]) -> str:
            greeting = Variable.get("greeting", default_var="hello")
            self.log.info("greeting %s on %s", self.name, context["ds"])
            return f"{greeting} {self.name}"

    with DAG("custom", schedule=None, start_date=datetime(2026, 1, 1),
             default_args={"owner": "data-engineering", "retries": 1}) as dag:
        GreetOperator(task_id="greet", name="{{ ds }}")
    assert dag.get_task("greet").retries == 1
    with caplog.at_level(logging.INFO):
        result = dag.test(logical_date="2026-01-01")
    assert result.xcom_pull("greet") == "hello 2026-01-01"
    assert "greeting 2026-01-01 on 2026-01-01" in caplog.text


def test_task_group_decorator_builds_groups_like_airflow() -> None:
    airflow_compat.enable()
    from airflow.decorators import dag, task, task_group  # type: ignore[import-not-found]
    from airflow.operators.empty import EmptyOperator  # type: ignore[import-not-found]

    @task_group
    def load(value: int) -> None:
        """Load one value."""

        @task
        def double(x: int) -> int:
            return x * 2

        double(value)

    @task_group(group_id="checks")
    def check() -> object:
        @task
        def last() -> str:
            return "checked"

        return last()

    @dag(schedule=None, start_date=datetime(2026, 1, 1))
    def grouped() -> None:
        start = EmptyOperator(task_id="start")
        first = load(1)
        second = load(2)
        checked = check()
        start >> [first, second]
        [first, second] >> checked

    built = grouped()
    assert set(built.task_group_dict) == {"load", "load__1", "checks"}
    assert built.task_group_dict["load"].tooltip == "Load one value."
    assert built.get_task("checks.last").upstream_task_ids == {"load.double", "load__1.double"}
    result = built.test(logical_date="2026-01-01")
    assert result.state == "success"
    assert result.xcom_pull("load__1.double") == 4
    assert result.xcom_pull("checks.last") == "checked"


def test_days_ago_and_state_constants() -> None:
    airflow_compat.enable()
    from airflow.utils.dates import days_ago  # type: ignore[import-not-found]
    from airflow.utils.state import State  # type: ignore[import-not-found]

    def expected() -> datetime:
        return (datetime.now(UTC) - timedelta(days=2)).replace(hour=6, minute=0, second=0,
                                                               microsecond=0)

    before = expected()
    moment = days_ago(2, hour=6)
    assert moment in {before, expected()}  # the day may turn between the two readings
    assert State.FAILED == "failed"
    assert State.SKIPPED in State.finished and State.RUNNING in State.unfinished


# -- the documentation ------------------------------------------------------------------------
def test_the_migration_page_lists_every_module_of_the_table() -> None:
    page = (Path(__file__).resolve().parents[3] / "docs" / "migrating-from-airflow.md")
    rows = {line.split("|")[1].strip().strip("`") for line in page.read_text().splitlines()
            if line.startswith("| `airflow")}
    assert rows == set(MODULES)
    for module, names in MODULES.items():
        line = next(x for x in page.read_text().splitlines() if x.startswith(f"| `{module}` |"))
        for name, target in names.items():
            if target.startswith("!"):
                assert f"`{name}` → not supported" in line, (module, name)
            else:
                assert f"`{name}` → `{target.replace(':', '.')}`" in line, (module, name)
