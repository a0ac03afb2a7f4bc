"""DAG files that raise, hang, exit or do not compile are import errors; good DAGs still run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from engine_helpers import Home, run_job

from millstream.cli.engine import scheduler_job
from millstream.model.states import DagRunState

BAD_FILES = {
    "raises.py": """
        from millstream import DAG

        raise ValueError("this DAG file is broken on purpose")
    """,
    "hangs.py": """
        import time

        from millstream import DAG

        while True:  # never finishes importing
            time.sleep(0.1)
    """,
    "syntax.py": """
        from millstream import DAG

        with DAG("half_written" as dag:
            pass
    """,
    "exits.py": """
        import sys

        from millstream import DAG

        sys.exit(3)  # a DAG file has no business exiting
    """,
}

GOOD_DAG = """
    from millstream import DAG
    from millstream.operators.python import PythonOperator

    with DAG("good_neighbour", schedule=None) as dag:
        PythonOperator(task_id="hello", python_callable=lambda: print("hello"))
"""


def test_broken_dag_files_are_import_errors_and_the_good_dag_still_runs(home: Home) -> None:
    for name, source in BAD_FILES.items():
        home.write_dag(name, source)
    home.write_dag("good.py", GOOD_DAG)
    home.set(scheduler__file_parse_timeout_s=2)

    with scheduler_job(home.settings()) as job:
        job.step(datetime.now(UTC))  # parses the folder: the hanging file takes its timeout
        errors = {Path(e.filename).name: e for e in home.store().import_errors.list()}
        assert set(errors) == set(BAD_FILES), errors
        assert "this DAG file is broken on purpose" in errors["raises.py"].traceback
        assert "ValueError" in errors["raises.py"].traceback
        assert "timed out" in errors["hangs.py"].traceback
        assert "2 s" in errors["hangs.py"].traceback
        assert "SystemExit: 3" in errors["exits.py"].traceback
        assert "SyntaxError" in errors["syntax.py"].traceback
        assert "line 3" in errors["syntax.py"].traceback  # where it is wrong
        for error in errors.values():
            assert error.filename.startswith(str(home.dags.resolve()))

        assert home.parsed("good_neighbour")
        run_id = home.trigger("good_neighbour")
        run_job(job, lambda: home.finished_run("good_neighbour", run_id), 30,
                "the good DAG's run to finish", lambda: home.describe("good_neighbour"))

    run = home.run("good_neighbour", run_id)
    assert run is not None and run.state is DagRunState.SUCCESS
