"""``millstream standalone`` and ``scheduler`` as users start them: which DAGs they load, which
start paused, and the start-up lines standalone prints whole into a pipe or a file."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.engine.engine_helpers import Home, Proc, kill_group, wait_for

from millstream.api import accounts
from millstream.parsing.dagbag import DagBag, example_dags_folder

EXAMPLES = example_dags_folder()
WAITS_FOR_INPUTS = "event_driven_etl"  # is_paused_upon_creation=True
OWN_DAG = """
    from datetime import datetime

    from millstream import DAG
    from millstream.operators.empty import EmptyOperator

    with DAG("own_dag", schedule="@daily", start_date=datetime(2026, 1, 1)) as dag:
        EmptyOperator(task_id="only")
"""


@pytest.fixture(scope="module")
def example_ids() -> set[str]:
    assert EXAMPLES is not None, "the example DAGs ship with the source checkout"
    bag = DagBag(EXAMPLES)
    assert not bag.import_errors
    return set(bag.dags)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    """A fresh home on standalone's default SQLite file, with one DAG of its own."""
    path = tmp_path / "home"
    (path / "dags").mkdir(parents=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    found = Home(path, f"sqlite:///{path / 'millstream.db'}", scratch)
    # The defaults a user has: new DAGs start paused (the helper's processes say otherwise).
    found.set(core__dags_are_paused_at_creation="true")
    found.write_dag("own_dag.py", OWN_DAG)
    try:
        yield found
    finally:
        found.close()


def start_unwrapped(home: Home, *args: str) -> Proc:
    """Start ``millstream ARGS`` writing to a file, with no COLUMNS: what a pipe gets."""
    env = home.process_env()
    env.pop("COLUMNS")
    argv = [sys.executable, "-m", "millstream.cli.main", *args]
    out = home.scratch / f"{args[0]}.out"
    with out.open("wb") as sink:
        popen = subprocess.Popen(argv, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True,
                                 cwd=home.scratch)
    proc = Proc(popen, out, argv)
    home._procs.append(proc)  # stopped with everything it started when the test ends
    return proc


def stored_dags(home: Home) -> dict[str, bool]:
    """Every DAG the store holds, with its paused flag."""
    store = home.store()
    with store.transaction():
        return {record.dag_id: record.is_paused for record in store.dags.list()}


def wait_until_parsed(home: Home, proc: Proc, dag_ids: set[str]) -> dict[str, bool]:
    def parsed() -> dict[str, bool] | None:
        if proc.popen.poll() is not None:
            pytest.fail(f"millstream exited {proc.popen.returncode}\n{proc.tail()}")
        if not (home.path / "millstream.db").exists():
            return None
        try:
            found = stored_dags(home)
        except Exception:  # the schema is still being created
            return None
        return found if dag_ids <= set(found) else None

    return wait_for(parsed, 90, f"the DAGs {sorted(dag_ids)} to be stored", proc.tail)


def test_standalone_starts_the_examples_unpaused_and_prints_its_lines_whole(
    home: Home, example_ids: set[str]
) -> None:
    proc = start_unwrapped(home, "standalone")
    found = wait_until_parsed(home, proc, example_ids | {"own_dag"})
    kill_group(proc.pid)  # seen what it stored: the examples need not run here

    assert set(found) == example_ids | {"own_dag"}
    assert {d for d, paused in found.items() if paused} == {WAITS_FOR_INPUTS, "own_dag"}
    output = proc.output()
    assert "Traceback" not in output, proc.tail()
    # Into a file rich would wrap at 80 columns; every line stays whole instead.
    lines = output.splitlines()
    key_line = next((line for line in lines if line.startswith("fernet key")), None)
    assert key_line == (f"fernet key   {home.path / 'fernet.key'} "
                        "(generated: keep it, secrets need it)"), output
    login = re.search(r"^login +admin / (\S+) \(generated, shown this once\)$", output,
                      re.MULTILINE)
    assert login is not None, output
    with home.store().transaction():
        assert accounts.authenticate(home.store(), "admin", login.group(1)) is not None
    assert f"DAGs         {home.dags}" in lines
    assert f"examples     {EXAMPLES}" in lines
    assert any(re.fullmatch(r"web server on http://127\.0\.0\.1:\d+ \(API at "
                            r"http://127\.0\.0\.1:\d+/api/v1\)", line) for line in lines), output


def test_standalone_loads_no_examples_when_load_examples_is_false(home: Home) -> None:
    home.set(core__load_examples="false")
    proc = start_unwrapped(home, "standalone")
    found = wait_until_parsed(home, proc, {"own_dag"})
    assert found == {"own_dag": True}
    assert not any(line.startswith("examples") for line in proc.output().splitlines())


def test_the_scheduler_loads_the_examples_only_when_load_examples_is_true(
    home: Home, example_ids: set[str]
) -> None:
    first = home.start("scheduler")
    assert wait_until_parsed(home, first, {"own_dag"}) == {"own_dag": True}
    kill_group(first.pid)

    home.set(core__load_examples="true")
    second = home.start("scheduler")
    found = wait_until_parsed(home, second, example_ids | {"own_dag"})
    # Under the scheduler the examples are DAGs like any other: new, hence paused.
    assert found == dict.fromkeys(example_ids | {"own_dag"}, True)
    store = home.store()
    with store.transaction():
        assert store.pools.slots("data_sync_pool") is not None  # the examples' pool
    assert f"examples     {EXAMPLES}" in second.output().splitlines()
