"""A DAG file that forks at import, or leaves a process running, cannot confuse the parser:
each file is credited with its own DAGs, and nothing it started outlives its parse."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

from millstream.parsing.processor import DagFileProcessor
from millstream.processes import process_exists

FORKS_AT_IMPORT = """
    import os

    from millstream import DAG
    from millstream.operators.empty import EmptyOperator

    os.fork()  # both copies go on importing, as with a library that forks

    with DAG("{dag_id}", schedule=None) as dag:
        EmptyOperator(task_id="t")
"""

GOOD = """
    from millstream import DAG
    from millstream.operators.empty import EmptyOperator

    with DAG("{dag_id}", schedule=None) as dag:
        EmptyOperator(task_id="t")
"""

LEAVES_A_DAEMON = """
    import subprocess
    from pathlib import Path

    from millstream import DAG
    from millstream.operators.empty import EmptyOperator

    daemon = subprocess.Popen(["sleep", "300"], start_new_session=True)
    Path({pid_file!r}).write_text(str(daemon.pid))

    with DAG("with_daemon", schedule=None) as dag:
        EmptyOperator(task_id="t")
"""


def write(path: Path, source: str) -> str:
    path.write_text(textwrap.dedent(source))
    return str(path.resolve())


def test_files_after_one_that_forks_at_import_get_their_own_dags(tmp_path: Path) -> None:
    paths = [write(tmp_path / "a_forks.py", FORKS_AT_IMPORT.format(dag_id="forker"))]
    paths += [write(tmp_path / f"b{i}.py", GOOD.format(dag_id=f"dag_{i}")) for i in range(6)]
    with DagFileProcessor(max_workers=1) as processor:
        for _ in range(2):  # the worker stays usable after the forking file
            report = processor.parse(paths)
            credited = {os.path.basename(p): [d["dag_id"] for d in r.dags]
                        for p, r in report.files.items()}
            assert credited == {"a_forks.py": ["forker"],
                                **{f"b{i}.py": [f"dag_{i}"] for i in range(6)}}


def test_a_process_a_dag_file_leaves_running_in_its_own_session_is_ended(
        tmp_path: Path) -> None:
    pid_file = tmp_path / "daemon.pid"
    path = write(tmp_path / "daemon.py", LEAVES_A_DAEMON.format(pid_file=str(pid_file)))
    with DagFileProcessor(max_workers=1) as processor:
        report = processor.parse([path])
        assert [d["dag_id"] for d in report.files[path].dags] == ["with_daemon"]
        daemon = int(pid_file.read_text())
        deadline = time.monotonic() + 10
        while process_exists(daemon) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not process_exists(daemon)
