"""What millstream writes is readable by its owner only, whatever the umask of its processes:
the SQLite database and its WAL files, task logs and what sits beside them, the home's folders."""

from __future__ import annotations

import contextlib
import os
import stat
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.engine.engine_helpers import Home, wait_for

PRINTING_DAG = """
    from millstream import DAG
    from millstream.operators.python import PythonOperator

    def talk():
        print("a line for the log")
        return {"rows": 3}

    with DAG("private_files", schedule=None) as dag:
        PythonOperator(task_id="talk", python_callable=talk)
"""


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    """The umask of this process, and so of the processes it starts meanwhile."""
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


def modes_below(root: Path) -> dict[str, int]:
    """Every file and folder under ``root`` (and root itself) with its permission bits."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


@pytest.fixture
def fresh_home(tmp_path: Path) -> Iterator[Home]:
    """A home that does not exist yet, two folders deep, with its DAGs kept elsewhere."""
    dags = tmp_path / "user-dags"
    dags.mkdir()
    (dags / "private_files.py").write_text(textwrap.dedent(PRINTING_DAG), encoding="utf-8")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    path = tmp_path / "new" / "home"
    home = Home(path, f"sqlite:///{path / 'millstream.db'}", scratch)
    home.set(core__dags_folder=str(dags))
    try:
        yield home
    finally:
        home.close()


def test_a_home_made_under_an_open_umask_is_owner_only(fresh_home: Home) -> None:
    with umask(0):
        fresh_home.cli("dags", "list")
        scheduler = fresh_home.start("scheduler")
        wait_for(
            lambda: fresh_home.parsed("private_files"), 60, "the DAG parsed", detail=scheduler.tail
        )
        run_id = fresh_home.trigger_with_cli("private_files")
        run = wait_for(
            lambda: fresh_home.finished_run("private_files", run_id),
            60,
            "the run finished",
            detail=scheduler.tail,
        )
    assert run.state.value == "success", fresh_home.describe("private_files")
    modes = modes_below(fresh_home.path.parent)  # the folder made for the home, too
    names = set(modes)
    assert {"home/millstream.db", "home/logs"} <= names, sorted(names)
    assert any(name.endswith("-wal") for name in names), sorted(names)
    assert any(name.startswith("home/logs/") and name.endswith(".log") for name in names)
    wrong = {
        name: oct(mode) for name, mode in modes.items() if mode & 0o077 or mode & 0o600 != 0o600
    }
    assert not wrong, f"readable by others: {wrong}"
    folders = {name for name in names if (fresh_home.path.parent / name).is_dir()}
    assert all(modes[name] == 0o700 for name in folders), {n: oct(modes[n]) for n in folders}


def test_files_that_exist_keep_the_permissions_their_owner_gave(tmp_path: Path) -> None:
    from millstream.private_files import append_private, make_private_folder, touch_private

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    log = shared / "a.log"
    log.write_text("kept\n", encoding="utf-8")
    log.chmod(0o644)
    with umask(0):
        make_private_folder(shared / "inner" / "deeper")
        touch_private(log)
        with append_private(log) as file:
            file.write("more\n")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert stat.S_IMODE(log.stat().st_mode) == 0o644
    assert log.read_text(encoding="utf-8") == "kept\nmore\n"
    assert stat.S_IMODE((shared / "inner").stat().st_mode) == 0o700
    assert stat.S_IMODE((shared / "inner" / "deeper").stat().st_mode) == 0o700
