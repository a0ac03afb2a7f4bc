"""Parsing DAG files in worker processes: good files, every way a file can fail, re-parsing."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

from millstream.parsing.processor import DagFileProcessor, FileFingerprint, parse_files
from millstream.parsing.serialize import DagStructure

GOOD = """
    from millstream import DAG
    from millstream.operators.empty import EmptyOperator

    with DAG("{dag_id}", schedule=None) as dag:
        EmptyOperator(task_id="extract") >> EmptyOperator(task_id="load")
"""

TWO_DAGS = """
    from millstream import DAG
    from millstream.operators.empty import EmptyOperator

    with DAG("first", schedule=None) as first:
        EmptyOperator(task_id="a")

    with DAG("second", schedule="@daily") as second:
        EmptyOperator(task_id="b")
"""


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def only_error(path: Path, **kwargs: object) -> tuple[str, int | None, str]:
    report = parse_files([path], **kwargs)  # type: ignore[arg-type]
    result = report.files[str(path.resolve())]
    assert result.status == "error"
    assert result.error is not None
    assert not result.dags
    return result.error.error, result.error.lineno, result.error.message


def test_good_file_gives_serialized_dags(tmp_path: Path) -> None:
    path = write(tmp_path / "good.py", GOOD.format(dag_id="good"))
    report = parse_files([path])
    result = report.files[str(path)]
    assert result.status == "parsed"
    assert result.error is None
    assert [d["dag_id"] for d in result.dags] == ["good"]
    structure = DagStructure(result.dags[0])  # what crosses the process boundary is usable
    assert structure.task_dict["load"].upstream_task_ids == {"extract"}
    assert result.fingerprint == FileFingerprint.of(path)
    assert report.import_errors == {}


def test_what_a_file_prints_is_kept_with_its_result(tmp_path: Path) -> None:
    path = write(tmp_path / "chatty.py", GOOD.format(dag_id="chatty"))
    path.write_text(path.read_text() + "print('loading sales config')\n")
    result = parse_files([path]).files[str(path)]
    assert result.status == "parsed"
    assert "loading sales config" in result.output


def test_file_with_two_dags(tmp_path: Path) -> None:
    report = parse_files([write(tmp_path / "two.py", TWO_DAGS)])
    assert sorted(d["dag_id"] for d in report.dags) == ["first", "second"]


def test_syntax_error_has_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.py", "from millstream import DAG\n\nx = (\n")
    error, lineno, message = only_error(path)
    assert error.startswith("SyntaxError")
    assert lineno == 3
    assert "broken.py" in message


def test_raising_file_has_traceback_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "raises.py", """
        from millstream import DAG


        raise ValueError("the warehouse is gone")
    """)
    error, lineno, message = only_error(path)
    assert error == "ValueError: the warehouse is gone"
    assert lineno == 5
    assert "Traceback" in message and "raises.py" in message


def test_hanging_file_times_out_and_the_next_file_still_parses(tmp_path: Path) -> None:
    hang = write(tmp_path / "a_hang.py", """
        import time
        from millstream import DAG
        while True:
            time.sleep(0.05)
    """)
    good = write(tmp_path / "b_good.py", GOOD.format(dag_id="after_hang"))
    started = time.monotonic()
    report = parse_files([hang, good], timeout_s=1, max_workers=1)
    assert time.monotonic() - started < 5
    error = report.import_errors[str(hang)]
    assert "timed out after 1 s" in error.error
    assert [d["dag_id"] for d in report.files[str(good)].dags] == ["after_hang"]


def test_sys_exit_is_an_import_error(tmp_path: Path) -> None:
    path = write(tmp_path / "exits.py", "import sys\nfrom millstream import DAG\nsys.exit(3)\n")
    error, lineno, _ = only_error(path)
    assert "SystemExit" in error and "3" in error
    assert lineno == 3


def test_os_exit_is_an_import_error_and_the_worker_is_replaced(tmp_path: Path) -> None:
    path = write(tmp_path / "a_os_exit.py", "import os\nfrom millstream import DAG\nos._exit(4)\n")
    good = write(tmp_path / "b_good.py", GOOD.format(dag_id="after_exit"))
    report = parse_files([path, good], max_workers=1)
    assert "exit code 4" in report.import_errors[str(path)].error
    assert [d["dag_id"] for d in report.dags] == ["after_exit"]


def test_segfault_is_an_import_error(tmp_path: Path) -> None:
    path = write(tmp_path / "crash.py", """
        import ctypes
        from millstream import DAG
        ctypes.string_at(0)
    """)
    error, lineno, message = only_error(path)
    assert "SIGSEGV" in error
    assert lineno == 4
    assert "crash.py" in message  # the Python stack of the crash


def test_memory_hog_is_an_import_error(tmp_path: Path) -> None:
    path = write(tmp_path / "hog.py", """
        from millstream import DAG
        hog = bytearray(2 * 1024 ** 3)
    """)
    error, lineno, message = only_error(path, memory_mb=256)
    assert "exceeded 256 MB" in error
    assert lineno == 3
    assert "MemoryError" in message


def test_unchanged_files_are_skipped_and_changed_ones_parsed(tmp_path: Path) -> None:
    same = write(tmp_path / "same.py", GOOD.format(dag_id="same"))
    edited = write(tmp_path / "edited.py", GOOD.format(dag_id="edited_v1"))
    first = parse_files([same, edited])
    assert first.unchanged == []

    write(edited, GOOD.format(dag_id="edited_v2"))
    second = parse_files([same, edited], previous=first.fingerprints)
    assert second.unchanged == [str(same)]
    assert second.files[str(same)].dags == []
    assert [d["dag_id"] for d in second.dags] == ["edited_v2"]
    assert second.fingerprints[str(same)] == first.fingerprints[str(same)]
    assert second.fingerprints[str(edited)] != first.fingerprints[str(edited)]


def test_same_size_and_mtime_but_new_content_is_parsed_again(tmp_path: Path) -> None:
    path = write(tmp_path / "sneaky.py", GOOD.format(dag_id="dag_aa"))
    first = parse_files([path])
    stat = path.stat()
    write(path, GOOD.format(dag_id="dag_bb"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = parse_files([path], previous={path: first.fingerprints[str(path)]})
    assert [d["dag_id"] for d in second.dags] == ["dag_bb"]


def test_helper_package_next_to_the_dags_is_importable(tmp_path: Path) -> None:
    write(tmp_path / "common" / "__init__.py", "")
    write(tmp_path / "common" / "naming.py", "def dag_name(team):\n    return f'{team}_etl'\n")
    path = write(tmp_path / "uses_common.py", """
        from millstream import DAG
        from millstream.operators.empty import EmptyOperator
        from common.naming import dag_name

        with DAG(dag_name("sales"), schedule=None) as dag:
            EmptyOperator(task_id="t")
    """)
    report = parse_files([path])
    assert report.import_errors == {}
    assert [d["dag_id"] for d in report.dags] == ["sales_etl"]


def test_a_reused_worker_sees_edited_helpers_and_no_leftovers(tmp_path: Path) -> None:
    helper = write(tmp_path / "common" / "__init__.py", "NAME = 'v1'\n")
    uses = write(tmp_path / "a_uses.py", """
        import os
        from millstream import DAG
        from common import NAME

        os.environ["MILLSTREAM_TEST_LEAK"] = "leaked"
        with DAG(f"helper_{NAME}", schedule=None) as dag:
            pass
    """)
    peeks = write(tmp_path / "b_peeks.py", """
        import os
        from millstream import DAG

        with DAG("leak_" + os.environ.get("MILLSTREAM_TEST_LEAK", "none"), schedule=None) as d:
            pass
    """)
    with DagFileProcessor(max_workers=1) as processor:
        first = processor.parse([uses, peeks])
        assert sorted(d["dag_id"] for d in first.dags) == ["helper_v1", "leak_none"]
        pid = processor._workers[0].process.pid
        write(helper, "NAME = 'v2'\n")
        write(uses, uses.read_text() + "\n# edited\n")
        second = processor.parse([uses], previous=first.fingerprints)
        assert [d["dag_id"] for d in second.dags] == ["helper_v2"]
        assert processor._workers[0].process.pid == pid  # the same warm worker
    assert "MILLSTREAM_TEST_LEAK" not in os.environ


def test_missing_file_is_an_error_without_fingerprint(tmp_path: Path) -> None:
    report = parse_files([tmp_path / "gone.py"])
    error = report.import_errors[str(tmp_path / "gone.py")]
    assert "cannot read" in error.error
    assert report.fingerprints == {}


def test_many_files_with_failures_in_between(tmp_path: Path) -> None:
    paths = []
    for i in range(30):
        source = "raise RuntimeError('bad')\n" if i % 10 == 5 else GOOD.format(dag_id=f"d{i}")
        paths.append(write(tmp_path / f"f{i:02d}.py", source))
    paths.append(write(tmp_path / "zz_exit.py", "import os\nos._exit(1)\n"))
    report = parse_files(paths, timeout_s=10)
    assert len(report.dags) == 27
    assert len(report.import_errors) == 4


def test_invalid_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        DagFileProcessor(timeout_s=0)
