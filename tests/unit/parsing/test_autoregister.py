"""Airflow 3's parsing rule: every DAG whose ``with`` block ran, or that a ``@dag`` call
built, while a file imports is one of the file's DAGs, bound to a module-level name or not."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from millstream.parsing import DagBag, DagImportError, load_dag_file

UNBOUND = """
    from millstream import DAG, dag
    from millstream.operators.empty import EmptyOperator

    with DAG("no_as", schedule=None):
        EmptyOperator(task_id="t")

    for name in ("loop_a", "loop_b"):
        with DAG(name, schedule=None):
            EmptyOperator(task_id="t")

    def build():
        with DAG("in_function", schedule=None):
            EmptyOperator(task_id="t")

    build()

    @dag(schedule=None)
    def decorated():
        EmptyOperator(task_id="t")

    decorated()

    with DAG("kept", schedule=None) as kept:
        EmptyOperator(task_id="t")

    never_entered_and_dropped = [DAG("only_in_a_list", schedule=None)]
    with DAG("opted_out", schedule=None, auto_register=False):
        EmptyOperator(task_id="t")
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_dags_without_a_module_level_name_are_registered(tmp_path: Path) -> None:
    dags = load_dag_file(_write(tmp_path, "unbound.py", UNBOUND))
    # A DAG never used in a `with` block and not at module level is not registered, as in
    # Airflow; auto_register=False opts a DAG out.
    assert sorted(dags) == ["decorated", "in_function", "kept", "loop_a", "loop_b", "no_as"]
    assert dags["loop_b"].task_ids == ["t"]


def test_a_dag_whose_block_raised_is_not_registered(tmp_path: Path) -> None:
    text = """
        from millstream import DAG

        try:
            with DAG("broken", schedule=None):
                raise RuntimeError("half built")
        except RuntimeError:
            pass
        with DAG("fine", schedule=None):
            pass
    """
    assert sorted(load_dag_file(_write(tmp_path, "half.py", text))) == ["fine"]


def test_two_unbound_dags_with_one_id_in_a_file_are_an_import_error(tmp_path: Path) -> None:
    text = """
        from millstream import DAG

        for _ in range(2):
            with DAG("twice", schedule=None):
                pass
    """
    with pytest.raises(DagImportError, match="'twice' is defined more than once"):
        load_dag_file(_write(tmp_path, "twice.py", text))


def test_a_dag_id_clash_across_files_names_both_files(tmp_path: Path) -> None:
    text = """
        from millstream import DAG

        with DAG("shared", schedule=None):
            pass
    """
    first = _write(tmp_path, "a_first.py", text)
    second = _write(tmp_path, "b_second.py", text)
    bag = DagBag(tmp_path)
    assert bag.dag_ids == ["shared"]
    assert list(bag.import_errors) == [str(second)]
    error = bag.import_errors[str(second)]
    assert str(first) in error and str(second) in error and "DuplicateDagId" in error
