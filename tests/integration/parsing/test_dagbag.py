"""DagBag: a folder's DAGs in this process, import errors, lookups, safe mode, examples."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from millstream import DAG
from millstream.parsing import DagBag
from millstream.parsing.dagbag import example_dags_folder

SALES = """
    from datetime import datetime

    from millstream import DAG
    from millstream.operators.empty import EmptyOperator

    with DAG("etl_sales_pipeline", schedule="@daily", start_date=datetime(2026, 1, 1)) as dag:
        EmptyOperator(task_id="extract") >> EmptyOperator(task_id="load")
"""

ONE = """
    from millstream import DAG
    from millstream.operators.empty import EmptyOperator

    with DAG("{dag_id}", schedule=None) as dag:
        EmptyOperator(task_id="t")
"""

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "dags"


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def test_the_usual_dag_folder_test(tmp_path: Path) -> None:
    write(tmp_path / "sales.py", SALES)
    write(tmp_path / "team" / "marketing.py", ONE.format(dag_id="marketing"))
    dagbag = DagBag(dag_folder=tmp_path, include_examples=False)
    assert len(dagbag.import_errors) == 0
    dag = dagbag.get_dag("etl_sales_pipeline")
    assert isinstance(dag, DAG)
    assert sorted(dag.task_dict) == ["extract", "load"]
    assert dagbag.dag_ids == ["etl_sales_pipeline", "marketing"]
    assert dagbag.size() == 2
    assert dagbag.get_dag("missing") is None


def test_a_broken_file_is_an_import_error_and_the_rest_still_load(tmp_path: Path) -> None:
    write(tmp_path / "sales.py", SALES)
    broken = write(tmp_path / "broken.py", """
        from millstream import DAG
        raise RuntimeError("no connection configured")
    """)
    dagbag = DagBag(dag_folder=str(tmp_path))
    assert list(dagbag.import_errors) == [str(broken)]
    assert "RuntimeError: no connection configured" in dagbag.import_errors[str(broken)]
    assert "Traceback" in dagbag.import_errors[str(broken)]
    assert dagbag.dag_ids == ["etl_sales_pipeline"]


def test_a_dag_id_defined_twice_is_an_import_error_of_the_second_file(tmp_path: Path) -> None:
    first = write(tmp_path / "a_first.py", ONE.format(dag_id="shared"))
    second = write(tmp_path / "b_second.py", ONE.format(dag_id="shared"))
    dagbag = DagBag(dag_folder=tmp_path)
    assert dagbag.dag_ids == ["shared"]
    assert dagbag.get_dag("shared").fileloc == str(first)  # type: ignore[union-attr]
    assert "already defined in" in dagbag.import_errors[str(second)]


def test_safe_mode_skips_files_that_do_not_mention_dags(tmp_path: Path) -> None:
    write(tmp_path / "sales.py", SALES)
    helper = write(tmp_path / "helpers.py", "raise RuntimeError('imported by accident')\n")
    assert DagBag(dag_folder=tmp_path).import_errors == {}
    unsafe = DagBag(dag_folder=tmp_path, safe_mode=False)
    assert list(unsafe.import_errors) == [str(helper)]
    assert unsafe.dag_ids == ["etl_sales_pipeline"]


def test_helper_package_next_to_the_dags(tmp_path: Path) -> None:
    write(tmp_path / "common" / "__init__.py", "OWNER = 'data-team'\n")
    write(tmp_path / "uses_common.py", """
        from millstream import DAG
        from millstream.operators.empty import EmptyOperator
        from common import OWNER

        with DAG("with_helper", schedule=None, default_args={"owner": OWNER}) as dag:
            EmptyOperator(task_id="t")
    """)
    dagbag = DagBag(dag_folder=tmp_path)
    assert dagbag.import_errors == {}, "\n".join(dagbag.import_errors.values())
    assert dagbag.get_dag("with_helper").task_dict["t"].owner == "data-team"  # type: ignore[union-attr]


def test_a_single_file_as_dag_folder(tmp_path: Path) -> None:
    path = write(tmp_path / "sales.py", SALES)
    write(tmp_path / "other.py", ONE.format(dag_id="other"))
    assert DagBag(dag_folder=path).dag_ids == ["etl_sales_pipeline"]


def test_a_missing_folder_is_reported(tmp_path: Path) -> None:
    dagbag = DagBag(dag_folder=tmp_path / "nope")
    assert dagbag.size() == 0
    assert "does not exist" in dagbag.import_errors[str(tmp_path / "nope")]


def test_default_folder_comes_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MILLSTREAM_DAGS_FOLDER", raising=False)
    monkeypatch.delenv("MILLSTREAM__CORE__DAGS_FOLDER", raising=False)
    monkeypatch.delenv("MILLSTREAM__CORE__HOME", raising=False)
    monkeypatch.setenv("MILLSTREAM_HOME", str(tmp_path))
    write(tmp_path / "dags" / "sales.py", SALES)
    assert DagBag().dag_ids == ["etl_sales_pipeline"]


@pytest.mark.skipif(example_dags_folder() is None, reason="no example DAGs in this install")
def test_include_examples_adds_the_example_dags(tmp_path: Path) -> None:
    # The examples have an etl_sales_pipeline of their own.
    write(tmp_path / "sales.py", SALES.replace("etl_sales_pipeline", "local_sales"))
    without = DagBag(dag_folder=tmp_path)
    with_examples = DagBag(dag_folder=tmp_path, include_examples=True)
    assert without.size() == 1
    assert with_examples.size() > 1
    assert with_examples.import_errors == {}


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="needs a source checkout")
def test_the_example_dags_import_cleanly() -> None:
    dagbag = DagBag(dag_folder=EXAMPLES, include_examples=False)
    assert dagbag.import_errors == {}, "\n".join(dagbag.import_errors.values())
    assert dagbag.size() >= 3


def test_a_misspelled_argument_says_which_name_was_meant_with_file_and_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "typo.py").write_text(textwrap.dedent("""
        from millstream import DAG
        from millstream.operators.empty import EmptyOperator

        with DAG("typo", shedule="@daily") as dag:
            EmptyOperator(task_id="t")
    """).lstrip(), encoding="utf-8")
    write(tmp_path / "fine.py", SALES)
    from millstream.parsing.loader import DagImportError, load_dag_file

    with pytest.raises(DagImportError) as raised:
        load_dag_file(tmp_path / "typo.py")
    assert raised.value.lineno == 4
    assert raised.value.error == ("TypeError: DAG.__init__() got an unexpected keyword argument "
                                  "'shedule' — did you mean 'schedule'?")
    dagbag = DagBag(dag_folder=tmp_path)
    assert "did you mean 'schedule'?" in dagbag.import_errors[str(tmp_path / "typo.py")]
    assert dagbag.dag_ids == ["etl_sales_pipeline"]  # the other file still loads


def test_an_unknown_argument_with_no_near_name_keeps_the_plain_error(tmp_path: Path) -> None:
    from millstream.parsing.loader import DagImportError, load_dag_file

    path = tmp_path / "odd.py"
    path.write_text('from millstream import DAG\nDAG("odd", zzzqqq=1)\n', encoding="utf-8")
    with pytest.raises(DagImportError) as raised:
        load_dag_file(path)
    assert raised.value.error == ("TypeError: DAG.__init__() got an unexpected keyword argument "
                                  "'zzzqqq'")
    assert raised.value.lineno == 2
