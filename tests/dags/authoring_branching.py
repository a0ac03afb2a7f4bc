"""Classic operators with branching and short-circuiting.

start -> choose -> fast_path | slow (group: prepare -> crunch) -> join -> gate
      -> publish -> cleanup (all_done)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from millstream import DAG, TaskGroup, TriggerRule
from millstream.operators.bash import BashOperator
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import BranchPythonOperator, ShortCircuitOperator


def _choose(params: dict[str, Any]) -> str:
    return "fast_path" if params["mode"] == "fast" else "slow"


def _gate(params: dict[str, Any]) -> bool:
    return bool(params["publish"])


with DAG(
    "authoring_branching",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    params={"mode": "fast", "publish": True},
    doc_md="Chooses a path per run, then publishes unless told not to.",
) as branching:
    start = EmptyOperator(task_id="start")
    choose = BranchPythonOperator(task_id="choose", python_callable=_choose)
    fast = BashOperator(task_id="fast_path", bash_command="echo fast-{{ params.mode }}")
    with TaskGroup("slow") as slow:
        prepare = BashOperator(task_id="prepare", bash_command="echo prepared")
        crunch = BashOperator(task_id="crunch", bash_command="echo crunched-{{ ds_nodash }}")
        prepare >> crunch
    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
    gate = ShortCircuitOperator(
        task_id="gate", python_callable=_gate, ignore_downstream_trigger_rules=False
    )
    publish = BashOperator(task_id="publish", bash_command="echo published")
    cleanup = EmptyOperator(task_id="cleanup", trigger_rule=TriggerRule.ALL_DONE)

    start >> choose >> [fast, slow] >> join >> gate >> publish >> cleanup
