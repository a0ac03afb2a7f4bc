"""A real scheduler and LocalExecutor run: secrets a task reads show as *** in its log.

The connection and the variables are in the database (encrypted); the task's worker
process decrypts them, prints and logs them, and fails with the password in its error.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cryptography.fernet import Fernet
from engine_helpers import Home, wait_for

from millstream.model.states import DagRunState, TaskState
from millstream.runtime.worker import try_log_path
from millstream.secrets import Connection, service
from millstream.secrets.settings import using_settings
from millstream.store.records import TaskInstanceKey

PASSWORD = "db-pass-!@#-918273"
API_KEY = "sk-live-5647382910"

LEAKY_DAG = """
    import logging

    from millstream import DAG
    from millstream.operators.bash import BashOperator
    from millstream.operators.python import PythonOperator
    from millstream.secrets import Variable, get_connection

    def leak():
        conn = get_connection("warehouse")
        print("printed password:", conn.password)
        logging.getLogger("millstream.task").info("logged uri: %s", conn.get_uri())
        logging.getLogger("some.library").warning("library saw %s", conn.password)
        print("secret variable:", Variable.get("stripe_api_key"))
        print("plain variable:", Variable.get("region"))
        raise RuntimeError(f"could not log in with {conn.password}")

    with DAG("leaky", schedule=None) as dag:
        PythonOperator(task_id="leak", python_callable=leak)
        BashOperator(task_id="shell", bash_command=(
            "echo shell sees {{ conn.warehouse.password }} in {{ var.value.region }}"))
"""


def test_printed_and_logged_secrets_are_masked_in_the_task_log(secrets_home: Home) -> None:
    home = secrets_home
    home.set(core__fernet_key=Fernet.generate_key().decode())
    now = datetime.now(UTC)
    store = home.store()
    with using_settings(home.settings()):
        service.set_connection(store, Connection(
            "warehouse", "postgres", host="db.internal", login="etl", password=PASSWORD,
            extra=json.dumps({"sslmode": "require"})), "tests", now)
        service.set_variable(store, "stripe_api_key", API_KEY, "tests", now)
        service.set_variable(store, "region", "eu-west-1", "tests", now)
    home.write_dag("leaky.py", LEAKY_DAG)
    scheduler = home.start("scheduler")
    wait_for(lambda: home.parsed("leaky"), 60, "the scheduler to parse the DAG", scheduler.tail)
    run_id = home.trigger("leaky")
    run = wait_for(lambda: home.finished_run("leaky", run_id), 120, "the run to finish",
                   lambda: home.describe("leaky") + "\n" + scheduler.tail())
    assert run.state is DagRunState.FAILED
    states = {label: ti.state for label, ti in home.instances("leaky", run_id).items()}
    assert states == {"leak": TaskState.FAILED, "shell": TaskState.SUCCESS}

    leak_log = try_log_path(home.logs, TaskInstanceKey("leaky", run_id, "leak"), 1).read_text()
    shell_log = try_log_path(home.logs, TaskInstanceKey("leaky", run_id, "shell"), 1).read_text()
    for log in (leak_log, shell_log):
        assert PASSWORD not in log and API_KEY not in log
        assert "%21%40%23" not in log  # nor the password's percent-encoded form in the URI
    assert "printed password: ***" in leak_log
    assert "logged uri: postgres://etl:***@db.internal/?sslmode=require" in leak_log
    assert "library saw ***" in leak_log
    assert "secret variable: ***" in leak_log
    assert "plain variable: eu-west-1" in leak_log  # not a secret: shown as it is
    assert "RuntimeError: could not log in with ***" in leak_log
    assert "shell sees *** in eu-west-1" in shell_log

    error = home.instance("leaky", run_id, "leak").error or ""
    assert "could not log in with ***" in error and PASSWORD not in error
    assert PASSWORD not in scheduler.output()
