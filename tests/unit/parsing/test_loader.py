"""The in-process DAG file loader: module-level DAGs, fresh imports, errors, lookup by id."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from millstream import DAG
from millstream.parsing import (
    DagImportError,
    DagNotFound,
    default_dags_folder,
    find_dag,
    iter_dag_files,
    load_dag_file,
)

TWO_DAGS = """
    from datetime import datetime

    from millstream import DAG, dag, task
    from millstream.operators.empty import EmptyOperator

    with DAG("classic", schedule=None, start_date=datetime(2026, 1, 1)) as classic:
        EmptyOperator(task_id="only")

    @dag(schedule=None)
    def decorated():
        @task
        def hello():
            return "hi"

        hello()

    decorated_dag = decorated()
    alias = classic  # the same DAG under a second name is still one DAG
"""

ONE_DAG = """
    from millstream import DAG
    from millstream.operators.empty import EmptyOperator

    with DAG("{dag_id}", schedule=None) as dag:
        EmptyOperator(task_id="t")
"""


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def test_collects_module_level_dags_including_dag_factory_results(tmp_path: Path) -> None:
    dags = load_dag_file(write(tmp_path / "pipelines.py", TWO_DAGS))
    assert sorted(dags) == ["classic", "decorated"]
    assert all(isinstance(d, DAG) for d in dags.values())
    assert dags["classic"].task_ids == ["only"]
    assert dags["decorated"].task_ids == ["hello"]


def test_each_load_imports_a_fresh_module(tmp_path: Path) -> None:
    path = write(tmp_path / "one.py", ONE_DAG.format(dag_id="again"))
    first = load_dag_file(path)["again"]
    second = load_dag_file(path)["again"]
    assert first is not second


def test_changes_to_the_file_are_seen_on_the_next_load(tmp_path: Path) -> None:
    path = write(tmp_path / "one.py", ONE_DAG.format(dag_id="before"))
    assert list(load_dag_file(path)) == ["before"]
    write(path, ONE_DAG.format(dag_id="after"))
    assert list(load_dag_file(path)) == ["after"]


def test_helper_package_next_to_the_dag_file_imports(tmp_path: Path) -> None:
    folder = tmp_path / "dags"
    write(folder / "common_helpers_x1" / "__init__.py", "")
    write(folder / "common_helpers_x1" / "naming.py", "def dag_name():\n    return 'from_helper'\n")
    path = write(folder / "uses_helper.py", """
        from common_helpers_x1.naming import dag_name
        from millstream import DAG
        from millstream.operators.empty import EmptyOperator

        with DAG(dag_name(), schedule=None) as dag:
            EmptyOperator(task_id="t")
    """)
    before = list(sys.path)
    assert list(load_dag_file(path)) == ["from_helper"]
    assert sys.path == before  # the folder was only on sys.path while importing


def test_a_file_without_dags_gives_nothing(tmp_path: Path) -> None:
    assert load_dag_file(write(tmp_path / "helper.py", "X = 1\n")) == {}


def test_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.py", "from millstream import DAG\n\nx = (\n")
    with pytest.raises(DagImportError) as caught:
        load_dag_file(path)
    error = caught.value
    assert error.path == str(path.resolve())
    assert error.lineno == 3
    assert "SyntaxError" in error.summary
    assert f"{path.resolve()}, line 3" in error.summary
    assert "\n" not in error.summary
    assert "SyntaxError" in error.message
    assert "importlib" not in error.message and "loader.py" not in error.message


def test_exception_during_import_carries_the_traceback_of_the_user_code(tmp_path: Path) -> None:
    path = write(tmp_path / "raises.py", """
        import millstream

        def build():
            raise RuntimeError("no connection configured")

        build()
    """)
    with pytest.raises(DagImportError) as caught:
        load_dag_file(path)
    error = caught.value
    assert error.lineno == 5  # where it was raised, the deepest line of the DAG file
    assert error.summary.endswith("RuntimeError: no connection configured")
    assert error.message.startswith("Traceback")
    assert f'File "{path.resolve()}", line 5, in build' in error.message
    assert "importlib" not in error.message and "loader.py" not in error.message
    assert not any(name.startswith("millstream_dagfile_raises") for name in sys.modules)


def test_error_raised_in_a_helper_points_at_the_dag_file_line(tmp_path: Path) -> None:
    write(tmp_path / "helper_raises_x2.py", "def connect():\n    raise OSError('refused')\n")
    path = write(tmp_path / "calls_helper.py", """
        import millstream
        from helper_raises_x2 import connect

        connect()
    """)
    with pytest.raises(DagImportError) as caught:
        load_dag_file(path)
    assert caught.value.lineno == 5
    assert "helper_raises_x2.py" in caught.value.message


def test_sys_exit_in_a_dag_file_is_an_import_error(tmp_path: Path) -> None:
    path = write(tmp_path / "exits.py", "import sys\nsys.exit(3)\n")
    with pytest.raises(DagImportError, match="exit"):
        load_dag_file(path)


def test_a_dag_definition_error_is_an_import_error(tmp_path: Path) -> None:
    path = write(tmp_path / "cycle.py", """
        from millstream import DAG
        from millstream.operators.empty import EmptyOperator

        with DAG("cyclic", schedule=None) as dag:
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            a >> b >> a
    """)
    with pytest.raises(DagImportError, match="cycle"):
        load_dag_file(path)


def test_two_dags_with_one_id_in_a_file_is_an_import_error(tmp_path: Path) -> None:
    path = write(tmp_path / "twice.py", """
        from millstream import DAG

        first = DAG("same", schedule=None)
        second = DAG("same", schedule=None)
    """)
    with pytest.raises(DagImportError, match="'same'"):
        load_dag_file(path)


def test_missing_file_is_an_import_error(tmp_path: Path) -> None:
    with pytest.raises(DagImportError, match="not found"):
        load_dag_file(tmp_path / "absent.py")


def test_find_dag_by_path_returns_the_only_dag(tmp_path: Path) -> None:
    path = write(tmp_path / "one.py", ONE_DAG.format(dag_id="solo"))
    assert find_dag(str(path), None).dag_id == "solo"


def test_find_dag_by_path_with_several_dags_asks_for_a_dag_id(tmp_path: Path) -> None:
    path = write(tmp_path / "pipelines.py", TWO_DAGS)
    with pytest.raises(DagNotFound, match=r"classic, decorated.*--dag-id"):
        find_dag(str(path), None)
    assert find_dag(str(path), None, dag_id="decorated").dag_id == "decorated"
    with pytest.raises(DagNotFound, match="'other' is not defined"):
        find_dag(str(path), None, dag_id="other")


def test_find_dag_with_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(DagNotFound, match="does not exist"):
        find_dag(str(tmp_path / "nope.py"), None)


def test_find_dag_with_a_folder_explains_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(DagNotFound, match="is a folder"):
        find_dag(str(tmp_path), None)


def test_find_dag_by_id_searches_the_folder(tmp_path: Path) -> None:
    write(tmp_path / "a.py", ONE_DAG.format(dag_id="alpha"))
    write(tmp_path / "nested" / "b.py", ONE_DAG.format(dag_id="beta"))
    assert find_dag("beta", str(tmp_path)).dag_id == "beta"


def test_unknown_dag_id_names_the_id_and_the_folder(tmp_path: Path) -> None:
    write(tmp_path / "a.py", ONE_DAG.format(dag_id="alpha"))
    with pytest.raises(DagNotFound) as caught:
        find_dag("gamma", str(tmp_path))
    assert "'gamma'" in str(caught.value)
    assert str(tmp_path.resolve()) in str(caught.value)


def test_a_broken_file_does_not_hide_other_dags_but_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "a_broken.py", "import millstream\nraise ValueError('dag')\n")
    write(tmp_path / "b.py", ONE_DAG.format(dag_id="beta"))
    assert find_dag("beta", str(tmp_path)).dag_id == "beta"
    with pytest.raises(DagNotFound, match=r"1 file\(s\) failed to import: a_broken.py"):
        find_dag("gamma", str(tmp_path))


def test_missing_dags_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(DagNotFound, match="does not exist"):
        find_dag("alpha", str(tmp_path / "nowhere"))


def test_default_dags_folder_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MILLSTREAM_DAGS_FOLDER", raising=False)
    monkeypatch.setenv("MILLSTREAM_HOME", str(tmp_path / "home"))
    assert default_dags_folder() == tmp_path / "home" / "dags"
    monkeypatch.delenv("MILLSTREAM_HOME")
    assert default_dags_folder() == Path("~/.millstream/dags").expanduser()
    monkeypatch.setenv("MILLSTREAM_DAGS_FOLDER", str(tmp_path / "elsewhere"))
    assert default_dags_folder() == tmp_path / "elsewhere"


def test_find_dag_uses_the_default_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "home" / "dags" / "a.py", ONE_DAG.format(dag_id="homed"))
    monkeypatch.delenv("MILLSTREAM_DAGS_FOLDER", raising=False)
    monkeypatch.setenv("MILLSTREAM_HOME", str(tmp_path / "home"))
    assert find_dag("homed", None).dag_id == "homed"


def test_only_files_that_look_like_dag_files_are_listed(tmp_path: Path) -> None:
    write(tmp_path / "dag_file.py", ONE_DAG.format(dag_id="x"))
    write(tmp_path / "helper.py", "def add(a, b):\n    return a + b\n")
    write(tmp_path / ".hidden" / "h.py", ONE_DAG.format(dag_id="y"))
    write(tmp_path / "__pycache__" / "c.py", ONE_DAG.format(dag_id="z"))
    write(tmp_path / "notes.txt", "millstream dag")
    assert [p.name for p in iter_dag_files(tmp_path)] == ["dag_file.py"]
