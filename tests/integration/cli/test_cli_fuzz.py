"""Property-based fuzzing of the CLI's commands that store what a user typed: whatever the
input, a command either succeeds and stores something that follows the rules, or prints
one ``Error:`` line, exits 2 and stores nothing. Never a traceback.

The budget is fixed (``derandomize``: the same examples on every run), so CI stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import Cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from millstream.cli.common import open_store
from millstream.model.identifiers import Identifier, is_identifier

BUDGET = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))

# Text users paste: printable and control characters, path pieces, JSON-ish fragments.
typed = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["../x", "..", ".", " a", "a ", "a/b", "a\nb", "\x00", "%2e%2e", "x" * 300,
                     "manual__2026-01-01T00:00:00+00:00", "ok_id", "-rf", "--help"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                  max_size=3),
    max_leaves=12,
)
conf_texts = st.one_of(
    json_values.map(json.dumps),
    st.integers(1, 300).map(lambda n: '{"a": ' * n + "1" + "}" * n),
    st.text(max_size=30),
)
dates = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2026-02-30",
                     "2026-01-01", "2026-01-01T06:00:00+05:30", "now", ""]),
)


def assert_refused_cleanly(code: int, out: str, err: str) -> None:
    assert "Traceback" not in out + err, out + err
    assert code in (0, 2), f"exit {code}\n{out}\n{err}"
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        # Typer's own usage errors are a framed box; ours are one "Error:" line.
        assert lines and (lines[0].startswith("Error: ") or lines[0].startswith("Usage:")), err


@pytest.fixture
def seeded(cli: Cli) -> Cli:
    cli.seed()
    return cli


def test_dags_trigger_with_any_run_id_conf_and_date(seeded: Cli) -> None:
    @BUDGET
    @given(run_id=typed, conf=conf_texts, date=dates)
    def check(run_id: str, conf: str, date: str) -> None:
        with open_store() as store:
            before = {r.run_id for r in store.runs.list("pipeline")}
        code, out, err = seeded("dags", "trigger", "pipeline", "--run-id", run_id,
                                "--conf", conf, "--logical-date", date)
        assert_refused_cleanly(code, out, err)
        with open_store() as store:
            after = {r.run_id for r in store.runs.list("pipeline")}
            added = after - before
            if code == 0:
                (new,) = added
                assert is_identifier(new, Identifier.RUN)
                instances = store.task_instances.for_run("pipeline", new)
                assert sorted(ti.task_id for ti in instances) == ["explode", "extract", "load"]
            else:
                assert added == set()

    check()


def test_pools_set_with_any_name_and_slots(cli: Cli) -> None:
    @BUDGET
    @given(name=typed, slots=st.one_of(st.integers(-5, 10**25).map(str), st.text(max_size=8)))
    def check(name: str, slots: str) -> None:
        with open_store() as store:
            before = {n: s for n, s, _ in store.pools.list()}
        code, out, err = cli("pools", "set", "--", name, slots)  # "--": a name like "-x" too
        assert_refused_cleanly(code, out, err)
        with open_store() as store:
            after = {n: s for n, s, _ in store.pools.list()}
        if code == 0:
            assert is_identifier(name, Identifier.POOL) and after[name] == int(slots)
        else:
            assert after == before

    check()


def test_variables_set_and_import_with_any_key_and_value(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "vars.json"
    cli.ok("variables", "set", "first", "1")  # makes the Fernet key, which says so once

    @BUDGET
    @given(key=typed, value=st.one_of(st.text(max_size=20), conf_texts),
           as_json=st.booleans(), through_import=st.booleans())
    def check(key: str, value: str, as_json: bool, through_import: bool) -> None:
        with open_store() as store:
            before = {v.key for v in store.variables.list()}
        if through_import:
            source.write_text('{"fine_key": 1, ' + json.dumps(key) + ": " + value + "}")
            code, out, err = cli("variables", "import", str(source))
        else:
            code, out, err = cli("variables", "set", *(["--json"] if as_json else []), "--",
                                 key, value)
        assert_refused_cleanly(code, out, err)
        with open_store() as store:
            after = {v.key for v in store.variables.list()}
        if code == 0:
            assert is_identifier(key, Identifier.VARIABLE) and key in after
        else:
            assert after == before  # an import is all or nothing

    check()
