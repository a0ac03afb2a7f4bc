"""The retry e-mail is sent by the try's own process under the local executor."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from millstream.executors.local import LocalExecutor
from millstream.model.states import TaskState
from millstream.runtime.events import TaskWorkload
from millstream.runtime.worker import try_log_path
from millstream.store.memory import MemoryStore
from millstream.store.records import DagRunRecord, TaskInstanceKey
from tests.integration.hooks.servers import SmtpInbox
from tests.try_events import wait_for_finished

DAG_SOURCE = textwrap.dedent('''
    from datetime import datetime
    from millstream import DAG
    from millstream.operators.python import PythonOperator

    def fail():
        raise RuntimeError("warehouse unreachable")

    with DAG("worker_mail", start_date=datetime(2026, 1, 1), schedule=None) as dag:
        PythonOperator(task_id="extract", python_callable=fail, retries=2,
                       email="oncall@example.com")
''')
LOGICAL = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_try_process_sends_the_retry_email(smtp: SmtpInbox, tmp_path: Path) -> None:
    dag_file = tmp_path / "dags" / "worker_mail.py"
    dag_file.parent.mkdir()
    dag_file.write_text(DAG_SOURCE)
    log_folder = tmp_path / "logs"
    executor = LocalExecutor(1, log_folder, lambda: MemoryStore().xcoms)
    executor.start()  # forked after the SMTP settings were put in the environment
    try:
        run = DagRunRecord("worker_mail", "manual__1", LOGICAL, LOGICAL - timedelta(days=1),
                           LOGICAL)
        key = TaskInstanceKey("worker_mail", "manual__1", "extract")
        executor.submit(TaskWorkload(key, 1, 2, run, {}, str(dag_file)))
        finished = wait_for_finished(executor)
    finally:
        executor.stop(timeout=5.0, kill=True)
    assert finished.state is TaskState.UP_FOR_RETRY
    (mail,) = smtp.mails
    assert mail.rcpt_tos == ["oncall@example.com"]
    assert mail.subject == ("millstream alert: worker_mail.extract is up for retry "
                            "(run manual__1, try 1 of 3)")
    assert "Error: RuntimeError: warehouse unreachable" in mail.parts["text/plain"]
    # the try's own log records the sending: it happened in that process
    log_text = try_log_path(log_folder, key, 1).read_text()
    assert "Sent e-mail 'millstream alert: worker_mail.extract is up for retry" in log_text
