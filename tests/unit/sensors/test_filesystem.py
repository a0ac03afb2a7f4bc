"""FileSensor and FileTrigger on real files: paths, globs, templates, base paths, waiting."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import pytest

from millstream import DAG
from millstream.exceptions import DagDefinitionError
from millstream.sensors import FileSensor
from millstream.triggerer.base import load_trigger, serialize_trigger
from millstream.triggerer.triggers.file import FileTrigger, find_file

START = datetime(2026, 1, 1)


def _sensor_dag(**sensor_kwargs) -> DAG:
    with DAG("files", schedule="@daily", start_date=START) as dag:
        FileSensor(task_id="wait", poke_interval=0.01, timeout=30, **sensor_kwargs)
    return dag


def _write(path: Path, text: str = "data") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# -- what counts as found --------------------------------------------------------------------

def test_find_file_matches_paths_globs_and_folders_that_hold_files(tmp_path: Path) -> None:
    assert find_file(str(tmp_path / "missing.csv")) is None
    _write(tmp_path / "in" / "sales_1.csv")
    _write(tmp_path / "in" / "notes.txt")
    assert find_file(str(tmp_path / "in" / "sales_*.csv")) == str(tmp_path / "in" / "sales_1.csv")
    assert find_file(str(tmp_path / "in" / "*.parquet")) is None
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    assert find_file(str(tmp_path / "empty")) is None  # a folder without files is not data
    _write(tmp_path / "empty" / "deeper" / "part-0")
    assert find_file(str(tmp_path / "empty")) == str(tmp_path / "empty" / "deeper" / "part-0")


def test_double_star_crosses_folders_only_when_recursive(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "b" / "c" / "deep.csv")
    pattern = str(tmp_path / "**" / "deep.csv")
    assert find_file(pattern, recursive=True) == str(tmp_path / "a" / "b" / "c" / "deep.csv")
    assert find_file(pattern, recursive=False) is None


# -- FileSensor through dag.test -------------------------------------------------------------

def test_waits_for_a_templated_file_that_appears_between_pokes(tmp_path: Path,
                                                               between_pokes) -> None:
    target = tmp_path / "landing" / "sales_2026-01-05.csv"
    dag = _sensor_dag(filepath=str(tmp_path / "landing" / "sales_{{ ds }}.csv"))
    waits = between_pokes(lambda: _write(target))

    result = dag.test(logical_date="2026-01-05")

    assert result.task_states == {"wait": "success"}, result.tasks
    assert waits.seen == 1 and waits.done  # it found nothing, waited, then found the file


def test_a_glob_ignores_files_that_do_not_match(tmp_path: Path, between_pokes) -> None:
    _write(tmp_path / "in" / "readme.txt")
    dag = _sensor_dag(filepath=str(tmp_path / "in" / "*.csv"))
    # two waits: the non-matching file is there from the start and is not enough
    waits = between_pokes(lambda: _write(tmp_path / "in" / "orders.csv"), after=2)

    result = dag.test(logical_date="2026-01-05")

    assert result.task_states == {"wait": "success"}, result.tasks
    assert waits.seen == 2


def test_a_relative_path_is_taken_under_the_fs_connection_base_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, between_pokes
) -> None:
    monkeypatch.setenv("MILLSTREAM_CONN_LANDING_FS", f"fs://?path={tmp_path / 'landing'}")
    dag = _sensor_dag(filepath="sales_{{ ds_nodash }}.csv", fs_conn_id="landing_fs")
    between_pokes(lambda: _write(tmp_path / "landing" / "sales_20260105.csv"))
    # the same name outside the base path does not count
    _write(tmp_path / "sales_20260105.csv")

    assert dag.test(logical_date="2026-01-05").task_states == {"wait": "success"}


def test_the_base_path_may_come_from_a_json_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MILLSTREAM_CONN_DATA_FS", json.dumps(
        {"conn_type": "fs", "extra": {"path": str(tmp_path)}}))
    _write(tmp_path / "ready.flag")
    dag = _sensor_dag(filepath="ready.flag", fs_conn_id="data_fs")

    assert dag.test(logical_date="2026-01-05").task_states == {"wait": "success"}


def test_an_absolute_path_ignores_the_base_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as in the article: filepath='/data/landing/...' with fs_conn_id='data_filesystem'
    monkeypatch.setenv("MILLSTREAM_CONN_DATA_FILESYSTEM", "fs://?path=/nonexistent/base")
    _write(tmp_path / "landing" / "sales_2026-01-05.csv")
    dag = _sensor_dag(filepath=str(tmp_path / "landing" / "sales_{{ ds }}.csv"),
                      fs_conn_id="data_filesystem")

    assert dag.test(logical_date="2026-01-05").task_states == {"wait": "success"}


def test_recursive_globs_find_files_in_nested_folders(tmp_path: Path, between_pokes) -> None:
    dag = _sensor_dag(filepath=str(tmp_path / "**" / "*.csv"), recursive=True)
    between_pokes(lambda: _write(tmp_path / "2026" / "01" / "05" / "part.csv"))

    assert dag.test(logical_date="2026-01-05").task_states == {"wait": "success"}


def test_an_undefined_connection_fails_naming_it(tmp_path: Path) -> None:
    dag = _sensor_dag(filepath="x.csv", fs_conn_id="no_such_fs", retries=0)

    result = dag.test(logical_date="2026-01-05")

    assert result.task_states == {"wait": "failed"}
    assert "no_such_fs" in result.tasks[0].error


def test_a_file_that_never_comes_times_out_without_retrying(tmp_path: Path) -> None:
    with DAG("files", schedule="@daily", start_date=START) as dag:
        FileSensor(task_id="wait", filepath=str(tmp_path / "never.csv"), poke_interval=0.01,
                   timeout=0.05, retries=3)

    result = dag.test(logical_date="2026-01-05")

    assert result.task_states == {"wait": "failed"}
    assert result.tasks[0].tries == 1
    assert "SensorTimeout" in result.tasks[0].error and "timed out" in result.tasks[0].error


def test_soft_fail_skips_instead_of_failing(tmp_path: Path) -> None:
    with DAG("files", schedule="@daily", start_date=START) as dag:
        FileSensor(task_id="wait", filepath=str(tmp_path / "never.csv"), poke_interval=0.01,
                   timeout=0.05, soft_fail=True)

    assert dag.test(logical_date="2026-01-05").task_states == {"wait": "skipped"}


def test_reschedule_mode_frees_the_slot_and_finds_the_file_on_a_later_poke(
    tmp_path: Path, between_pokes
) -> None:
    target = tmp_path / "sales_2026-01-05.csv"
    dag = _sensor_dag(filepath=str(tmp_path / "sales_{{ ds }}.csv"), mode="reschedule")
    waits = between_pokes(lambda: _write(target), after=2)

    result = dag.test(logical_date="2026-01-05")

    assert result.task_states == {"wait": "success"}, result.tasks
    assert waits.seen == 2
    assert result.tasks[0].tries == 1  # rescheduled pokes continue the same try


def test_deferrable_waits_in_the_triggerer_for_the_file(tmp_path: Path, between_pokes) -> None:
    target = tmp_path / "sales_2026-01-05.csv"
    dag = _sensor_dag(filepath=str(tmp_path / "sales_{{ ds }}.csv"), deferrable=True)
    waits = between_pokes(lambda: _write(target))

    result = dag.test(logical_date="2026-01-05")

    assert result.task_states == {"wait": "success"}, result.tasks
    assert waits.seen == 1  # the one poke in the worker found nothing, then it deferred


def test_a_filepath_that_is_not_a_path_is_a_definition_error() -> None:
    with pytest.raises(DagDefinitionError, match=r"'wait'.*filepath"), \
            DAG("files", schedule=None):
        FileSensor(task_id="wait", filepath=42)


# -- FileTrigger -----------------------------------------------------------------------------

async def _first_event(trigger: FileTrigger):
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


def test_file_trigger_fires_once_the_file_appears(tmp_path: Path) -> None:
    trigger = FileTrigger(str(tmp_path / "out" / "*.csv"), poke_interval=0.01)

    async def scenario():
        waiting = asyncio.create_task(_first_event(trigger))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # nothing to find yet
        _write(tmp_path / "out" / "result.csv")
        return await asyncio.wait_for(waiting, timeout=30)

    payload = asyncio.run(scenario())
    assert payload == {"status": "success", "filepath": str(tmp_path / "out" / "result.csv")}


def test_file_trigger_survives_serialization(tmp_path: Path) -> None:
    trigger = FileTrigger(str(tmp_path / "**" / "x"), recursive=True, poke_interval=2.5)
    classpath, kwargs = serialize_trigger(trigger)
    again = load_trigger(classpath, json.loads(json.dumps(kwargs)))
    assert isinstance(again, FileTrigger)
    assert (again.filepath, again.recursive, again.poke_interval) == (
        trigger.filepath, True, 2.5)
