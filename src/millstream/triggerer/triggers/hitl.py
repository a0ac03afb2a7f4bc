"""HITLResponseTrigger: wait for a human's answer to a human-in-the-loop task.

The answer is the task instance's state store key ``hitl_response``, written by
``millstream tasks respond`` (or anything calling :func:`millstream.services.hitl.respond`).
The trigger looks every ``poke_interval`` seconds and fires with ``{"status": "responded",
"response": {...}}``, or with ``{"status": "timed_out"}`` once ``deadline`` passes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from millstream.triggerer.base import BaseTrigger, TriggerEvent
from millstream.triggerer.clock import current_clock

log = logging.getLogger("millstream.triggerer")

RESPONSE_KEY = "hitl_response"
REQUEST_KEY = "hitl_request"


class HITLResponseTrigger(BaseTrigger):
    """Fires when the task instance has a response, or when its deadline passes."""

    def __init__(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1,
                 deadline: datetime | None = None, poke_interval: float = 5.0) -> None:
        super().__init__()
        if deadline is not None and deadline.tzinfo is None:
            raise ValueError("HITLResponseTrigger: deadline must be timezone-aware")
        self.dag_id, self.run_id, self.task_id = dag_id, run_id, task_id
        self.map_index = map_index
        self.deadline = deadline
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("millstream.triggerer.triggers.hitl.HITLResponseTrigger",
                {"dag_id": self.dag_id, "run_id": self.run_id, "task_id": self.task_id,
                 "map_index": self.map_index, "deadline": self.deadline,
                 "poke_interval": self.poke_interval})

    def _response(self, now: datetime) -> Any:
        from millstream.store.current import metadata_transaction
        from millstream.store.state_store_records import TaskStateScope

        scope = TaskStateScope(self.dag_id, self.run_id, self.task_id, self.map_index)
        with metadata_transaction() as store:
            text = store.state_stores.get_task_state(scope, RESPONSE_KEY, now)
        return None if text is None else json.loads(text)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        clock = current_clock()
        while True:
            now = clock.now()
            response = self._response(now)
            if response is not None:
                yield TriggerEvent({"status": "responded", "response": response})
                return
            if self.deadline is not None and now >= self.deadline:
                yield TriggerEvent({"status": "timed_out"})
                return
            wake = now + timedelta(seconds=self.poke_interval)
            if self.deadline is not None:
                wake = min(wake, self.deadline)
            log.info("Waiting for a response to %s.%s", self.dag_id, self.task_id)
            await clock.sleep_until(wake)
