"""Answering a human-in-the-loop task: check the answer against its request and record it.

The waiting task (an ``HITLOperator``) stored its request in its task instance's state
store; the answer goes next to it, where the task's trigger finds it and resumes the task.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from millstream.exceptions import ConflictError, InvalidInputError
from millstream.model.state_retention import expires_at
from millstream.model.states import TaskState
from millstream.operators.hitl import check_answer
from millstream.services.common import label, require_task_instance
from millstream.store.audit import record_action
from millstream.store.interfaces import Store
from millstream.store.records import TaskInstanceKey
from millstream.store.state_store_records import TaskStateScope
from millstream.triggerer.triggers.hitl import REQUEST_KEY, RESPONSE_KEY


def pending_request(store: Store, key: TaskInstanceKey, now: datetime) -> dict[str, Any]:
    """The request of a task instance waiting for an answer; ConflictError if it is not."""
    with store.transaction():
        ti = require_task_instance(store, key)
        scope = TaskStateScope(key.dag_id, key.run_id, key.task_id, key.map_index)
        text = store.state_stores.get_task_state(scope, REQUEST_KEY, now)
        answered = store.state_stores.get_task_state(scope, RESPONSE_KEY, now)
    if text is None or ti.state is not TaskState.DEFERRED:
        raise ConflictError(f"task instance {label(key)} is not waiting for a response "
                            f"(state {ti.state.value})")
    if answered is not None:
        raise ConflictError(f"task instance {label(key)} has a response already")
    request: dict[str, Any] = json.loads(text)
    return request


def respond(store: Store, key: TaskInstanceKey, chosen_options: Sequence[str],
            params_input: Mapping[str, Any] | None, who: str, now: datetime) -> dict[str, Any]:
    """Record ``who``'s answer to the waiting task instance; returns the answer."""
    request = pending_request(store, key, now)
    try:
        chosen = check_answer(request, chosen_options, f"task instance {label(key)}")
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    given = dict(params_input or {})
    unknown = sorted(set(given) - set(request["params"]))
    if unknown:
        raise InvalidInputError(f"task instance {label(key)}: unknown params {unknown}; it "
                                f"asks for {sorted(request['params'])}")
    answer = {"chosen_options": chosen, "params_input": {**request["params"], **given},
              "responded_by": who, "responded_at": now.isoformat()}
    scope = TaskStateScope(key.dag_id, key.run_id, key.task_id, key.map_index)
    with store.transaction():
        store.state_stores.set_task_state(scope, RESPONSE_KEY, json.dumps(answer),
                                          expires_at(now), now)
        record_action(store, "hitl_respond", who, now, dag_id=key.dag_id, run_id=key.run_id,
                      task_id=key.task_id, map_index=key.map_index, chosen=chosen)
    return answer


__all__ = ["pending_request", "respond"]
