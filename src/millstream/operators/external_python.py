"""Python callables run in another interpreter: an existing one, or a virtualenv made for them.

The function's source is written to a script with its arguments (pickled), run by the
chosen interpreter in a child process, and its return value (pickled) read back. So the
function must be self-contained: it imports what it needs inside its body, as it would in
Airflow, and its arguments and return value must be picklable.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Container, Sequence
from pathlib import Path
from typing import Any

from millstream.exceptions import MillstreamError, TaskSkipped
from millstream.operators.python import PythonOperator
from millstream.operators.skipping import branch_targets, skip_tasks

log = logging.getLogger("millstream.task")

# Context values plain enough to hand to another interpreter.
_PORTABLE_CONTEXT = ("ds", "ds_nodash", "ts", "ts_nodash", "run_id", "params",
                     "logical_date", "data_interval_start", "data_interval_end")

_RUNNER = '''
import pickle, sys
with open(sys.argv[1], "rb") as f:
    _args, _kwargs = pickle.load(f)
_result = {name}(*_args, **_kwargs)
with open(sys.argv[2], "wb") as f:
    pickle.dump(_result, f)
'''


class ExternalPythonFailed(MillstreamError):
    """The callable failed in the other interpreter, or the interpreter could not start."""


def function_source(function: Callable[..., Any]) -> str:
    """The source of ``function`` without its decorators, dedented."""
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as exc:
        raise ExternalPythonFailed(
            f"the source of {getattr(function, '__name__', function)!r} is not available "
            f"to run in another interpreter: {exc}"
        ) from None
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.lstrip().startswith(("def ", "async def ")))
    return "\n".join(lines[start:]) + "\n"


class ExternalPythonOperator(PythonOperator):
    """Runs ``python_callable`` with the interpreter at ``python`` (a path).

    ``op_args``/``op_kwargs`` (and the plain context values the function names as
    parameters, such as ``ds`` or ``params``) are passed in; the return value is the
    task's XCom. An exit code in ``skip_on_exit_code`` ends the task skipped.
    """

    def __init__(
        self,
        *,
        python: str | None = None,
        expect_airflow: bool = True,
        string_args: Sequence[str] | None = None,
        serializer: str | None = None,
        use_dill: bool = False,
        skip_on_exit_code: int | Container[int] | None = None,
        env_vars: dict[str, str] | None = None,
        inherit_env: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.python = python
        self.expect_airflow = expect_airflow
        self.string_args = list(string_args or [])
        self.serializer = serializer
        self.use_dill = use_dill
        if skip_on_exit_code is None:
            skip_on_exit_code = ()
        elif isinstance(skip_on_exit_code, int):
            skip_on_exit_code = (skip_on_exit_code,)
        self.skip_on_exit_code = skip_on_exit_code
        self.env_vars = dict(env_vars or {})
        self.inherit_env = inherit_env

    def interpreter(self, workdir: Path) -> str:
        """The python executable to run the callable with."""
        if not self.python:
            raise ExternalPythonFailed(f"task {self.task_id!r}: python= names no interpreter")
        if not (os.path.isfile(self.python) and os.access(self.python, os.X_OK)):
            raise ExternalPythonFailed(
                f"task {self.task_id!r}: python interpreter {self.python!r} does not exist "
                "or is not executable"
            )
        return self.python

    def execute_callable(self, context: dict[str, Any]) -> Any:
        parameters = inspect.signature(self.python_callable).parameters
        kwargs = {key: context[key] for key in _PORTABLE_CONTEXT
                  if key in parameters and key in context and key not in self.op_kwargs}
        kwargs.update(self.op_kwargs)
        with tempfile.TemporaryDirectory(prefix="millstream-python-") as tmp:
            workdir = Path(tmp)
            python = self.interpreter(workdir)
            name = self.python_callable.__name__
            script = workdir / "script.py"
            script.write_text(function_source(self.python_callable)
                              + _RUNNER.format(name=name))
            arguments, result = workdir / "arguments.pickle", workdir / "result.pickle"
            try:
                arguments.write_bytes(pickle.dumps((list(self.op_args), kwargs)))
            except Exception as exc:
                raise ExternalPythonFailed(
                    f"task {self.task_id!r}: the arguments cannot be passed to another "
                    f"interpreter (not picklable): {exc}"
                ) from None
            env = dict(os.environ) if self.inherit_env else {}
            env.update(self.env_vars)
            code = run_logged([python, str(script), str(arguments), str(result),
                               *self.string_args], env=env, cwd=tmp)
            if code in self.skip_on_exit_code:
                raise TaskSkipped(f"the callable exited with code {code}")
            if code != 0:
                raise ExternalPythonFailed(
                    f"task {self.task_id!r}: {name}() failed in {python} (exit code {code}); "
                    "its traceback is in the log above"
                )
            return pickle.loads(result.read_bytes())


def run_logged(command: list[str], env: dict[str, str] | None = None,
               cwd: str | None = None) -> int:
    """Run ``command``, its output going to the task's log line by line; its exit code."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    assert process.stdout is not None
    with process.stdout:
        for raw in process.stdout:
            log.info("%s", raw.decode("utf-8", errors="replace").rstrip("\n"))
    return process.wait()


class PythonVirtualenvOperator(ExternalPythonOperator):
    """Runs ``python_callable`` in a virtualenv created for it with ``requirements``.

    The virtualenv is made with the standard library's ``venv`` from the interpreter of
    ``python_version`` (``pythonX.Y`` on the PATH; this one when not given), seeing that
    interpreter's packages when ``system_site_packages`` (the default). Without
    requirements nothing is installed, so it works offline. With ``venv_cache_path`` the
    virtualenv is kept there, keyed by its settings, and reused by later runs.
    """

    def __init__(
        self,
        *,
        requirements: str | Sequence[str] | None = None,
        python_version: str | None = None,
        system_site_packages: bool = True,
        pip_install_options: Sequence[str] | None = None,
        index_urls: Sequence[str] | str | None = None,
        venv_cache_path: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(requirements, str):
            requirements = [line.strip() for line in requirements.splitlines() if line.strip()]
        self.requirements = list(requirements or [])
        self.python_version = python_version
        self.system_site_packages = system_site_packages
        self.pip_install_options = list(pip_install_options or [])
        self.index_urls = [index_urls] if isinstance(index_urls, str) else list(index_urls or [])
        self.venv_cache_path = venv_cache_path

    def _base_python(self) -> str:
        if not self.python_version:
            return sys.executable
        found = shutil.which(f"python{self.python_version}")
        if found is None:
            raise ExternalPythonFailed(
                f"task {self.task_id!r}: no python{self.python_version} on the PATH to make "
                "the virtualenv with"
            )
        return found

    def interpreter(self, workdir: Path) -> str:
        base = self._base_python()
        if self.venv_cache_path:
            key = hashlib.sha256(repr((base, sorted(self.requirements),
                                       self.system_site_packages, self.pip_install_options,
                                       self.index_urls)).encode()).hexdigest()[:16]
            target = Path(self.venv_cache_path) / f"venv-{key}"
            python = target / "bin" / "python"
            if (target / ".ready").exists():
                return str(python)
        else:
            target = workdir / "venv"
            python = target / "bin" / "python"
        command = [base, "-m", "venv", str(target)]
        if self.system_site_packages:
            command.append("--system-site-packages")
        if not self.requirements:
            command.append("--without-pip")
        log.info("Creating virtualenv %s", target)
        if run_logged(command) != 0:
            raise ExternalPythonFailed(f"task {self.task_id!r}: creating the virtualenv failed")
        if self.requirements:
            install = [str(python), "-m", "pip", "install", *self.pip_install_options]
            if self.index_urls:
                install += ["--index-url", self.index_urls[0]]
                for extra in self.index_urls[1:]:
                    install += ["--extra-index-url", extra]
            if run_logged([*install, *self.requirements]) != 0:
                raise ExternalPythonFailed(
                    f"task {self.task_id!r}: installing {', '.join(self.requirements)} in the "
                    "virtualenv failed"
                )
        if self.venv_cache_path:
            (target / ".ready").touch()
        return str(python)


class _BranchMixin:
    """Follow the task id(s) the callable returned, skipping the other direct downstream."""

    def execute(self, context: dict[str, Any]) -> Any:
        chosen = super().execute(context)  # type: ignore[misc]
        follow = branch_targets(context, chosen)
        log.info("Following branch %s", sorted(follow))
        skip_tasks(context, self.downstream_task_ids - follow)  # type: ignore[attr-defined]
        return chosen


class BranchExternalPythonOperator(_BranchMixin, ExternalPythonOperator):
    """A branch whose callable runs with the interpreter at ``python``."""


class BranchPythonVirtualenvOperator(_BranchMixin, PythonVirtualenvOperator):
    """A branch whose callable runs in a virtualenv made for it."""


__all__ = [
    "BranchExternalPythonOperator",
    "BranchPythonVirtualenvOperator",
    "ExternalPythonFailed",
    "ExternalPythonOperator",
    "PythonVirtualenvOperator",
    "function_source",
]
