"""``millstream standalone`` on a fresh home generates the Fernet key its tasks then use."""

from __future__ import annotations

import re
import signal
import stat

from engine_helpers import Home, wait_for

from millstream.model.states import DagRunState

GREETING_DAG = """
    from millstream import DAG
    from millstream.operators.python import PythonOperator
    from millstream.secrets import Variable

    with DAG("greeting", schedule=None) as dag:
        PythonOperator(task_id="read", python_callable=lambda: Variable.get("greeting"))
"""


def test_standalone_generates_the_key_and_tasks_decrypt_with_it(
    blank_secrets_home: Home,
) -> None:
    home = blank_secrets_home
    key_file = home.path / "fernet.key"
    proc = home.start("standalone", "--no-examples")
    wait_for(lambda: "scheduler running" in proc.output(), 60, "standalone to start", proc.tail)
    match = re.search(r"^fernet key\s+(\S+) \(generated", proc.output(), re.MULTILINE)
    assert match is not None, proc.tail()
    assert match.group(1) == str(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()

    result = home.cli("variables", "set", "greeting", "hello from the database")
    assert "generated" not in result.stderr  # the key standalone wrote is used
    home.write_dag("greeting.py", GREETING_DAG)
    wait_for(lambda: home.parsed("greeting"), 60, "standalone to parse the DAG", proc.tail)
    run_id = home.trigger("greeting")
    run = wait_for(lambda: home.finished_run("greeting", run_id), 60, "the run to finish",
                   lambda: home.describe("greeting") + "\n" + proc.tail())
    assert run.state is DagRunState.SUCCESS, home.describe("greeting")
    assert home.store().xcoms.get_xcom("greeting", run_id, "read", -1, "return_value") == (
        '"hello from the database"')
    assert key_file.read_text().strip() == key
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=60) == 0, proc.tail()
