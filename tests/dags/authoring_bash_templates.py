"""BashOperator scripts found as template files, plus a mapped BashOperator.

report.sh lives in authoring_scripts/ next to this file (found through the DAG folder);
summary.sh lives in authoring_templates/ (found through template_searchpath).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from millstream import DAG
from millstream.operators.bash import BashOperator

HERE = Path(__file__).resolve().parent

with DAG(
    dag_id="authoring_bash_templates",
    schedule="0 6 * * *",
    start_date=datetime(2026, 1, 1),
    template_searchpath=str(HERE / "authoring_templates"),
    user_defined_macros={"project": "millstream-demo"},
) as bash_templates:
    from_folder = BashOperator(
        task_id="from_dag_folder",
        bash_command="authoring_scripts/report.sh",
        env={"GREETING": "hello"},
        append_env=True,
    )
    from_searchpath = BashOperator(task_id="from_searchpath", bash_command="summary.sh")
    per_item = BashOperator.partial(task_id="per_item", env={"SUFFIX": "!"}).expand(
        bash_command=["echo first$SUFFIX", "echo second$SUFFIX", "echo {{ ds_nodash }}$SUFFIX"]
    )
    from_folder >> from_searchpath >> per_item
