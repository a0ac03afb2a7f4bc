"""BashOperator: runs a templated shell command in its own process group."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Container
from typing import Any

from millstream.authoring.task import BaseOperator
from millstream.exceptions import MillstreamError, TaskSkipped

log = logging.getLogger("millstream.task")


class BashCommandFailed(MillstreamError):
    """The shell command exited with a non-zero code that does not mean skip."""


class BashOperator(BaseOperator):
    """Runs ``bash_command`` with bash; its last line of output is the task's XCom value.

    Exit code 99 (``skip_on_exit_code``) ends the task skipped; any other non-zero exit code
    fails it. ``env`` replaces the environment unless ``append_env=True``; ``cwd`` sets the
    working directory. A command ending in ``.sh`` or ``.bash`` is read as a template file.
    """

    template_fields = ("bash_command", "env", "cwd")
    template_ext = (".sh", ".bash")
    ui_color = "#f0ede4"

    def __init__(
        self,
        *,
        bash_command: str,
        env: dict[str, str] | None = None,
        append_env: bool = False,
        output_encoding: str = "utf-8",
        skip_on_exit_code: int | Container[int] | None = 99,
        cwd: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.env = env
        self.append_env = append_env
        self.output_encoding = output_encoding
        if skip_on_exit_code is None:
            skip_on_exit_code = ()
        elif isinstance(skip_on_exit_code, int):
            skip_on_exit_code = (skip_on_exit_code,)
        self.skip_on_exit_code = skip_on_exit_code
        self.cwd = cwd

    def _environment(self, context: dict[str, Any]) -> dict[str, str]:
        base = dict(os.environ) if self.env is None or self.append_env else {}
        base.update({str(k): str(v) for k, v in (self.env or {}).items()})
        run = context.get("dag_run")
        base.update({
            "MILLSTREAM_CTX_DAG_ID": str(self.dag_id or ""),
            "MILLSTREAM_CTX_TASK_ID": self.task_id,
            "MILLSTREAM_CTX_RUN_ID": str(getattr(run, "run_id", context.get("run_id", ""))),
            "MILLSTREAM_CTX_TRY_NUMBER": str(getattr(context.get("ti"), "try_number", "")),
        })
        return base

    def execute(self, context: dict[str, Any]) -> str | None:
        if self.cwd is not None and not os.path.isdir(self.cwd):
            raise BashCommandFailed(f"task {self.task_id!r}: cwd {self.cwd!r} is not a directory")
        process = subprocess.Popen(
            ["bash", "-c", self.bash_command],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.cwd,
            env=self._environment(context),
            start_new_session=True,  # its own process group, so a timeout kills all of it
        )
        last_line: str | None = None
        try:
            assert process.stdout is not None
            for raw in process.stdout:
                line = raw.decode(self.output_encoding, errors="replace").rstrip("\n")
                log.info("%s", line)
                last_line = line
            code = process.wait()
        finally:
            if process.poll() is None:
                _kill_group(process)
        if code in self.skip_on_exit_code:
            raise TaskSkipped(f"bash command exited with code {code}")
        if code != 0:
            raise BashCommandFailed(
                f"task {self.task_id!r}: bash command exited with code {code}"
            )
        return last_line


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Terminate the command's whole process group, then kill what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
