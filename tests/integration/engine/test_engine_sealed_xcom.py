"""A value a task marked secret is stored sealed when the task returns it: encrypted at rest,
shown with ``***`` by the API and the UI, and handed whole to the tasks that pull it."""

from __future__ import annotations

import json

from engine_helpers import Home, wait_for

from millstream.model.states import DagRunState
from millstream.runtime.xcom import SEALED, shown_xcom
from millstream.secrets.crypto import generate_fernet_key
from millstream.store.records import TaskInstanceKey

TOKEN = "tok-only-the-task-knows-8812"
SEALING_DAG = f"""
    from millstream import DAG
    from millstream.operators.python import PythonOperator
    from millstream.secrets import mask_secret

    def fetch_token():
        token = "{TOKEN}"
        mask_secret(token)
        return {{"header": "Bearer " + token, "rows": 3}}

    def use_token(ti):
        got = ti.xcom_pull(task_ids="fetch_token")
        if got != {{"header": "Bearer {TOKEN}", "rows": 3}}:
            raise ValueError("the pulled value is not what the task returned")

    with DAG("sealed_xcom", schedule=None) as dag:
        (PythonOperator(task_id="fetch_token", python_callable=fetch_token)
         >> PythonOperator(task_id="use_token", python_callable=use_token))
"""


def run_to_end(home: Home) -> tuple[str, str]:
    home.write_dag("sealed_xcom.py", SEALING_DAG)
    scheduler = home.start("scheduler")
    wait_for(lambda: home.parsed("sealed_xcom"), 60, "the DAG parsed", detail=scheduler.tail)
    run_id = home.trigger("sealed_xcom")
    run = wait_for(lambda: home.finished_run("sealed_xcom", run_id), 60, "the run finished",
                   detail=scheduler.tail)
    assert run.state is DagRunState.SUCCESS, home.describe("sealed_xcom")
    text = home.store().xcoms.get_xcom("sealed_xcom", run_id, "fetch_token", -1,
                                       "return_value")
    assert text is not None
    return run_id, text


def test_a_returned_secret_is_sealed_at_rest_and_pulled_whole(home: Home) -> None:
    home.set(core__fernet_key=generate_fernet_key())
    run_id, text = run_to_end(home)
    assert TOKEN not in text
    stored = json.loads(text)
    assert set(stored) == {SEALED}
    assert shown_xcom(stored) == {"header": "Bearer ***", "rows": 3}
    store = home.store()
    entries = dict(store.xcoms.entries(TaskInstanceKey("sealed_xcom", run_id, "fetch_token")))
    assert TOKEN not in entries["return_value"]


def test_without_a_fernet_key_the_value_is_kept_as_it_was(sqlite_home: Home) -> None:
    _, text = run_to_end(sqlite_home)
    assert json.loads(text) == {"header": f"Bearer {TOKEN}", "rows": 3}
