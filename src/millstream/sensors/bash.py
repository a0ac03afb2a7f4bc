"""BashSensor and DayOfWeekSensor: wait on a shell command's exit code, or for a weekday."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from millstream.exceptions import DagDefinitionError, TaskFailedNoRetry
from millstream.operators.branch import WeekDay
from millstream.sensors.base import BaseSensorOperator

log = logging.getLogger("millstream.task")


class BashSensor(BaseSensorOperator):
    """Pokes by running ``bash_command``: exit code 0 means done.

    Another exit code means "not yet", unless ``retry_exit_code`` is set: then only that
    code means "not yet" and any other fails the sensor at once.
    """

    template_fields = ("bash_command", "env")

    def __init__(self, *, bash_command: str, env: dict[str, str] | None = None,
                 output_encoding: str = "utf-8", retry_exit_code: int | None = None,
                 cwd: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.env = env
        self.output_encoding = output_encoding
        self.retry_exit_code = retry_exit_code
        self.cwd = cwd

    def poke(self, context: dict[str, Any]) -> bool:
        # env replaces the environment, as for BashOperator; None inherits this one
        env = None if self.env is None else {str(k): str(v) for k, v in self.env.items()}
        completed = subprocess.run(
            ["bash", "-c", self.bash_command], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env, cwd=self.cwd, stdin=subprocess.DEVNULL,
            check=False,
        )
        for line in completed.stdout.decode(self.output_encoding, "replace").splitlines():
            log.info("%s", line)
        code = completed.returncode
        log.info("Command exited with return code %s", code)
        if code == 0:
            return True
        if self.retry_exit_code is not None and code != self.retry_exit_code:
            raise TaskFailedNoRetry(
                f"task {self.task_id!r}: command exited with return code {code}")
        return False


class DayOfWeekSensor(BaseSensorOperator):
    """Waits until it is one of ``week_day`` (UTC; the run's logical date with
    ``use_task_logical_date``)."""

    def __init__(self, *, week_day: str | WeekDay | Iterable[str | WeekDay],
                 use_task_logical_date: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        try:
            self._week_day_numbers = WeekDay.validate_week_day(week_day)
        except (ValueError, TypeError) as exc:
            raise DagDefinitionError(f"task {self.task_id!r}: week_day: {exc}") from None
        self.week_day = week_day
        self.use_task_logical_date = use_task_logical_date

    def poke(self, context: dict[str, Any]) -> bool:
        moment = context["logical_date"] if self.use_task_logical_date else datetime.now(UTC)
        return bool(moment.isoweekday() in self._week_day_numbers)


__all__ = ["BashSensor", "DayOfWeekSensor"]
