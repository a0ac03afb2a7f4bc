"""BashOperator: runs a templated shell command in its own process group."""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
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
        output_processor: Callable[[str], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.output_processor = output_processor  # applied to the last line before the push
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

    def execute(self, context: dict[str, Any]) -> Any:
        last_line = self.run_command(context)
        if self.output_processor is not None and last_line is not None:
            return self.output_processor(last_line)
        return last_line

    def run_command(self, context: dict[str, Any]) -> str | None:
        """Run ``bash_command``; its last line of output, or an error for a bad exit code."""
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
        finished = False
        try:
            for raw in _output_lines(process):
                line = raw.decode(self.output_encoding, errors="replace")
                log.info("%s", line)
                last_line = line
            code = _wait(process)
            finished = True
        finally:
            if not finished:
                # interrupted (timeout): the group may outlive bash itself, e.g. `sleep 60 &`
                _kill_group(process)
            if process.stdout is not None:
                process.stdout.close()
        if code in self.skip_on_exit_code:
            raise TaskSkipped(f"bash command exited with code {code}")
        if code != 0:
            raise BashCommandFailed(
                f"task {self.task_id!r}: bash command exited with code {code}"
            )
        return last_line


class DecoratedBashOperator(BashOperator):
    """The operator behind ``@task.bash``: the function returns the command to run.

    The function is called with its arguments (and the context keys it names) when the
    task runs; the string it returns is rendered as a template and run like
    ``bash_command``. An empty or non-string result fails the task.
    """

    template_fields = ("env", "cwd", "op_args", "op_kwargs")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("bash_command", "")
        super().__init__(**kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})

    def execute(self, context: dict[str, Any]) -> Any:
        from millstream.authoring.templating import render_value, template_environment
        from millstream.operators.python import callable_kwargs

        kwargs = callable_kwargs(self.python_callable, self.op_args, self.op_kwargs, context)
        command = self.python_callable(*self.op_args, **kwargs)
        if not isinstance(command, str) or not command.strip():
            raise BashCommandFailed(
                f"task {self.task_id!r}: the @task.bash function must return a non-empty "
                f"command string, got {command!r}"
            )
        env = template_environment(self.dag)
        self.bash_command = render_value(command, context, env, tuple(self.template_ext))
        return super().execute(context)


_POLL_SECONDS = 0.1


def _output_lines(process: subprocess.Popen[bytes]) -> Iterator[bytes]:
    """The command's output, line by line (without the newline).

    Waits in short slices rather than one blocking read, so that a timeout raised
    asynchronously in this thread (the runtime's non-main-thread timeout) is delivered
    while the command is silent, not only when it next prints.
    """
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    pending = b""
    with selectors.DefaultSelector() as selector:
        selector.register(descriptor, selectors.EVENT_READ)
        while True:
            if not selector.select(timeout=_POLL_SECONDS):
                continue
            chunk = os.read(descriptor, 65536)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            yield from lines
    if pending:
        yield pending


def _wait(process: subprocess.Popen[bytes]) -> int:
    """The exit code, waiting in short slices for the same reason as :func:`_output_lines`."""
    while True:
        try:
            return process.wait(timeout=_POLL_SECONDS)
        except subprocess.TimeoutExpired:
            continue


def _kill_group(process: subprocess.Popen[bytes], grace: float = 2.0) -> None:
    """Terminate the command's whole process group, then kill what is left.

    Every process of the group gets SIGTERM and up to ``grace`` seconds to exit (to clean
    up); whatever still runs after that, bash itself or not, gets SIGKILL.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if process.poll() is not None and not _group_running(process.pid):
            break
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _group_running(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs; zombies waiting to be reaped do not."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    if not os.path.isdir("/proc"):
        return True  # no way to tell zombies apart: let the grace period run out
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after the command name: state, parent pid, process group
        if fields[0] != b"Z" and int(fields[2]) == pgid:
            return True
    return False
