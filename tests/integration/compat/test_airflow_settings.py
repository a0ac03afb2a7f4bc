"""With the layer on: AIRFLOW_CONN_* / AIRFLOW_VAR_* are read, ``airflow.configuration.conf``
answers from millstream's settings, the plugins folder is importable, unsupported features
fail at import naming the file, the line and what to use instead."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from millstream.compat import airflow as airflow_compat
from millstream.parsing import DagImportError, load_dag_file
from millstream.secrets.connection import Connection
from millstream.secrets.variable import Variable
from millstream.store.current import using_store
from millstream.store.memory import MemoryStore


def test_airflow_conn_and_var_env_vars_are_read_while_the_layer_is_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", "postgres://etl:pw@db.internal:5432/dw")
    monkeypatch.setenv("AIRFLOW_VAR_REGION", "eu")
    monkeypatch.setenv("AIRFLOW_VAR_BOTH", "from airflow")
    monkeypatch.setenv("MILLSTREAM_VAR_BOTH", "from millstream")
    store = MemoryStore()  # nothing in the metadata database
    with using_store(store), pytest.raises(KeyError):
        Variable.get("region")
    airflow_compat.enable()
    assert Variable.get("region") == "eu"
    assert Variable.get("both") == "from millstream"  # millstream's own variable wins
    conn = Connection.get_connection_from_secrets("warehouse")
    assert (conn.host, conn.port, conn.login, conn.schema) == ("db.internal", 5432, "etl", "dw")
    airflow_compat.disable()
    with using_store(store), pytest.raises(KeyError):
        Variable.get("region")


def test_conf_answers_common_keys_from_millstream_settings(
        layer_off: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILLSTREAM__SCHEDULER__CATCHUP_BY_DEFAULT", "true")
    airflow_compat.enable()
    from airflow.configuration import conf  # type: ignore[import-not-found]

    assert conf.get("core", "dags_folder") == str(layer_off / "dags")
    assert conf.getboolean("scheduler", "catchup_by_default") is True
    assert conf.get("core", "no_such_key", fallback="x") == "x"
    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", "3")
    assert conf.getint("core", "parallelism") == 3
    with pytest.raises(Exception, match=r"\[core/no_such_key\] not found"):
        conf.get("core", "no_such_key")


def test_the_plugins_folder_is_on_the_import_path_of_dag_files(
        layer_off: Path, tmp_path: Path) -> None:
    plugins = layer_off / "plugins"
    plugins.mkdir()
    (plugins / "team_operators.py").write_text(textwrap.dedent("""
        from airflow.sdk import BaseOperator

        class HelloOperator(BaseOperator):
            def execute(self, context):
                return "hello"
    """))
    dag_file = tmp_path / "uses_plugin.py"
    dag_file.write_text(textwrap.dedent("""
        from airflow.sdk import DAG
        from team_operators import HelloOperator

        with DAG("uses_plugin", schedule=None):
            HelloOperator(task_id="hello")
    """))
    airflow_compat.enable()
    dags = load_dag_file(dag_file)
    assert dags["uses_plugin"].test().xcom_pull("hello") == "hello"


def test_an_unsupported_feature_is_a_one_line_error_with_file_line_and_alternative(
        tmp_path: Path) -> None:
    dag_file = tmp_path / "pod.py"
    dag_file.write_text(textwrap.dedent("""
        from airflow.sdk import DAG

        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    """))
    airflow_compat.enable()
    with pytest.raises(DagImportError) as info:
        load_dag_file(dag_file)
    summary = info.value.summary
    assert "\n" not in summary
    assert summary.startswith(f"{dag_file}, line 4: ImportError")
    assert "the Kubernetes provider" in summary and "a BashOperator or PythonOperator" in summary


def test_object_storage_path_reads_and_writes_through_fsspec(tmp_path: Path) -> None:
    airflow_compat.enable()
    from airflow.io.path import ObjectStoragePath  # type: ignore[import-not-found]

    base = ObjectStoragePath(f"file://{tmp_path}")
    target = base / "out" / "data.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    assert target.write_text("a,b\n") == 4
    assert (tmp_path / "out" / "data.csv").read_text() == "a,b\n"
    assert [p.name for p in (base / "out").iterdir()] == ["data.csv"]
    assert (target.stem, target.suffix) == ("data", ".csv")
    memory = ObjectStoragePath("memory://bucket/copy.csv")
    target.copy(memory)
    assert memory.read_text() == "a,b\n" and memory.bucket == "bucket"
    target.unlink()
    assert not target.exists()
