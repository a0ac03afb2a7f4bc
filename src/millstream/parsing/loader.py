"""Loading DAG files in this process: import one file, or find one DAG by id in a folder.

This is the simple in-process loader used by the CLI and by tests. A DAG file is imported
as a fresh module under a unique name, so loading the same file twice gives two independent
sets of DAG objects, and its folder is on ``sys.path`` while it imports, so helper packages
kept next to the DAG files (``dags/common/...``) can be imported by them.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib.util
import inspect
import itertools
import os
import re
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from millstream.authoring.dag import DAG, registering_dags
from millstream.authoring.plugins import add_plugins_folder
from millstream.exceptions import MillstreamError

DAGS_FOLDER_ENV = "MILLSTREAM_DAGS_FOLDER"
HOME_ENV = "MILLSTREAM_HOME"
DEFAULT_HOME = "~/.millstream"

# `import airflow...` or `from airflow... import` at the start of a line (content lowercased)
_AIRFLOW_IMPORT = re.compile(rb"^[ \t]*(?:from|import)[ \t]+airflow\b", re.MULTILINE)

# Each load gets a new module name, so a second load of a file never reuses the first one's
# module object (and its DAGs) from sys.modules.
_load_counter = itertools.count(1)


class DagImportError(MillstreamError):
    """A DAG file could not be imported.

    ``message`` is the formatted traceback (trimmed to the frames of the user's code);
    ``summary`` is one line naming the file, the line and the error, for terminals.
    """

    def __init__(
        self, path: str, message: str, lineno: int | None = None, error: str | None = None
    ) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.lineno = lineno
        lines = message.strip().splitlines()
        self.error = error or (lines[-1] if lines else "")

    @property
    def summary(self) -> str:
        """``path, line N: ErrorType: what went wrong`` on a single line."""
        where = f"{self.path}, line {self.lineno}" if self.lineno else self.path
        return f"{where}: {self.error}"

    def __str__(self) -> str:
        return self.summary


class DagNotFound(MillstreamError, LookupError):
    """No DAG with the requested id (or no DAG at all) where we looked."""


def load_dag_file(path: str | os.PathLike[str]) -> dict[str, DAG]:
    """Import the Python file at ``path`` and return its DAGs by dag_id.

    As in Airflow 3, a file's DAGs are its module-level DAG objects and every DAG
    registered while it imports: each DAG whose ``with`` block ran (also without ``as``,
    in a loop or in a function) and each DAG a ``@dag`` call built, kept or not, unless
    made with ``auto_register=False``. Any error while importing (a syntax error, an
    exception, ``sys.exit``) raises :class:`DagImportError` with the traceback.
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise DagImportError(str(file), f"{file} does not exist or is not a file",
                             error="file not found")
    _enable_compat(file)
    add_plugins_folder()
    with registering_dags() as registered:
        module = _import_fresh(file)
    found: dict[str, DAG] = {}
    for value in [*vars(module).values(), *registered]:
        if not isinstance(value, DAG):
            continue
        other = found.get(value.dag_id)
        if other is not None and other is not value:
            raise DagImportError(
                str(file), f"dag_id {value.dag_id!r} is defined twice in {file}",
                error=f"DuplicateDagId: dag_id {value.dag_id!r} is defined more than once",
            )
        found[value.dag_id] = value
    return found


def _enable_compat(file: Path) -> None:
    """Turn on the Airflow compatibility layer first if the settings ask for it."""
    from millstream.compat.airflow import AirflowCompatError, enable_if_configured

    try:
        enable_if_configured()
    except AirflowCompatError as exc:
        raise DagImportError(str(file), f"AirflowCompatError: {exc}",
                             error=f"AirflowCompatError: {exc}") from None


def _import_fresh(file: Path) -> ModuleType:
    digest = hashlib.sha1(str(file).encode(), usedforsecurity=False).hexdigest()[:10]
    stem = re.sub(r"\W", "_", file.stem)
    name = f"millstream_dagfile_{stem}_{digest}_{next(_load_counter)}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise DagImportError(str(file), f"{file} cannot be imported as a Python module",
                             error="not a Python module")
    module = importlib.util.module_from_spec(spec)
    folder = str(file.parent)
    # Registered while it runs: dataclasses, pickling and typing look modules up by name.
    sys.modules[name] = module
    sys.path.insert(0, folder)
    shadowed = _set_aside_shadowed(folder)
    before = set(sys.modules)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # KeyboardInterrupt still stops the caller
        sys.modules.pop(name, None)
        raise _import_error(file, exc) from exc
    finally:
        # Only our own entry goes: the DAG file may have put the folder there too.
        _remove_first(sys.path, folder)
        _forget_helpers(before, folder)
        sys.modules.update(shadowed)
    return module


def _set_aside_shadowed(folder: str) -> dict[str, ModuleType]:
    """Take out of ``sys.modules`` what this folder's own helper modules would shadow.

    In a fresh process the folder comes first on ``sys.path``, so its ``common`` package
    is the one a DAG file gets; one imported earlier from elsewhere must not win.
    """
    root = os.path.join(os.path.abspath(folder), "")
    names = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.endswith(".py"):
                names.add(entry.name[:-3])
            elif entry.is_dir() and os.path.exists(os.path.join(entry.path, "__init__.py")):
                names.add(entry.name)
    aside: dict[str, ModuleType] = {}
    for name in list(sys.modules):
        if name.split(".", 1)[0] not in names:
            continue
        path = getattr(sys.modules[name], "__file__", None)
        if not (path and os.path.abspath(path).startswith(root)):
            aside[name] = sys.modules.pop(name)
    return aside


def _forget_helpers(before: set[str], folder: str) -> None:
    """Drop the helper modules a DAG file imported from its own folder.

    Two DAG folders often both have a ``common`` package; left in ``sys.modules``, the
    first one's would be handed to the second folder's DAGs. The DAGs keep working: their
    functions hold on to the helper modules they were defined with.
    """
    root = os.path.join(os.path.abspath(folder), "")
    for name in set(sys.modules) - before:
        path = getattr(sys.modules.get(name), "__file__", None)
        if path and os.path.abspath(path).startswith(root):
            del sys.modules[name]


def _remove_first(items: list[str], value: str) -> None:
    with contextlib.suppress(ValueError):
        items.remove(value)


def _import_error(file: Path, exc: BaseException) -> DagImportError:
    """A DagImportError whose traceback starts at the DAG file, not in the import machinery."""
    # A syntax error has no frame of the DAG file (it never ran); its own report already
    # shows the file, line and caret, so the import machinery's frames are only noise.
    tb = None if isinstance(exc, SyntaxError) else _user_frames(exc.__traceback__, file)
    exc = exc.with_traceback(tb)
    hint = _airflow_hint(exc) or _misspelling_hint(exc, tb, file)
    if hint is not None:
        exc.add_note(hint)
    message = "".join(traceback.format_exception(type(exc), exc, tb))
    # The first line is "Type: message"; a multi-line message or notes follow it.
    error = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[0]
    if hint is not None:
        error = f"{error} — {hint}"
    path, lineno = str(file), None
    if isinstance(exc, SyntaxError) and exc.filename:
        path, lineno = exc.filename, exc.lineno
        error = f"{type(exc).__name__}: {exc.msg}"
    else:
        for frame, frame_line in traceback.walk_tb(tb):
            if Path(frame.f_code.co_filename) == file:
                lineno = frame_line  # the deepest line of the DAG file itself
    if isinstance(exc, SystemExit):
        error = f"SystemExit: the DAG file called exit({exc.code!r})"
    return DagImportError(path, message, lineno=lineno, error=error)


def _airflow_hint(exc: BaseException) -> str | None:
    """How to turn on the Airflow compatibility layer, for a file that imports Airflow."""
    from millstream.compat.airflow import import_hint

    return import_hint(exc)


_UNEXPECTED_ARGUMENT = re.compile(
    r"(?P<callable>[\w.]+)\(\) got an unexpected keyword argument '(?P<name>\w+)'")


def _misspelling_hint(exc: BaseException, tb: TracebackType | None,
                      file: Path) -> str | None:
    """``did you mean 'schedule'?`` for ``DAG(shedule=...)``: the argument names of the
    callable the DAG file called that are closest to the one it misspelled."""
    found = _UNEXPECTED_ARGUMENT.match(str(exc)) if isinstance(exc, TypeError) else None
    if found is None:
        return None
    frame = next((f for f, _ in traceback.walk_tb(tb)
                  if Path(f.f_code.co_filename) == file), None)
    if frame is None:
        return None
    first, *rest = found["callable"].split(".")
    target: Any = frame.f_locals.get(first, frame.f_globals.get(first))
    for part in rest:
        target = getattr(target, part, None)
    try:
        names = [p.name for p in inspect.signature(target).parameters.values()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    except (TypeError, ValueError):
        return None
    close = difflib.get_close_matches(found["name"], names, n=1)
    return f"did you mean {close[0]!r}?" if close else None


def _user_frames(tb: TracebackType | None, file: Path) -> TracebackType | None:
    """Drop the leading frames of this module and importlib, up to the DAG file's first."""
    current = tb
    while current is not None:
        if Path(current.tb_frame.f_code.co_filename) == file:
            return current
        current = current.tb_next
    return tb


def default_dags_folder() -> Path:
    """``$MILLSTREAM_DAGS_FOLDER``, else ``$MILLSTREAM_HOME/dags`` (home: ``~/.millstream``)."""
    configured = os.environ.get(DAGS_FOLDER_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser() / "dags"


def iter_dag_files(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Python files under ``folder`` that look like DAG files, in a stable order.

    Like Airflow's safe mode, a file is only imported when its text mentions both
    ``millstream`` and ``dag``, or imports ``airflow`` and mentions ``dag`` (an Airflow DAG
    file, for the compatibility layer): helper modules next to the DAGs are left alone.
    Hidden folders and ``__pycache__`` are skipped.
    """
    root = Path(folder)
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith((".", "__pycache__")))
        for name in sorted(files):
            if name.endswith(".py") and not name.startswith("."):
                path = Path(directory) / name
                if _might_define_dags(path):
                    yield path


def _might_define_dags(path: Path) -> bool:
    try:
        content = path.read_bytes().lower()
    except OSError:
        return False
    if b"dag" not in content:
        return False
    return b"millstream" in content or _AIRFLOW_IMPORT.search(content) is not None


def find_dag(
    path_or_id: str, dags_folder: str | os.PathLike[str] | None = None, dag_id: str | None = None
) -> DAG:
    """The DAG named by a file path or a dag id.

    An existing ``.py`` file is loaded and its DAG returned; a file with several DAGs
    needs ``dag_id`` to choose. Anything else is a dag id, searched for in every DAG file
    of ``dags_folder`` (default: :func:`default_dags_folder`). Raises :class:`DagNotFound`
    or :class:`DagImportError`.
    """
    candidate = Path(path_or_id).expanduser()
    if candidate.is_file():
        return _pick(load_dag_file(candidate), candidate.resolve(), dag_id)
    if candidate.is_dir():
        raise DagNotFound(
            f"{path_or_id} is a folder: give a DAG file, or a dag id and the folder as dags folder"
        )
    if path_or_id.endswith(".py") or os.sep in path_or_id:
        raise DagNotFound(f"DAG file {path_or_id} does not exist")
    if dag_id is not None and dag_id != path_or_id:
        raise DagNotFound(
            f"{path_or_id!r} is not a file, so it is taken as a dag id; "
            f"do not also give a different dag id ({dag_id!r})"
        )
    folder = Path(dags_folder).expanduser() if dags_folder else default_dags_folder()
    return _search_folder(path_or_id, folder.resolve())


def _pick(dags: dict[str, DAG], file: Path, dag_id: str | None) -> DAG:
    if dag_id is not None:
        if dag_id in dags:
            return dags[dag_id]
        ids = ", ".join(sorted(dags)) or "none"
        raise DagNotFound(f"DAG {dag_id!r} is not defined in {file} (it defines: {ids})")
    if len(dags) == 1:
        return next(iter(dags.values()))
    if not dags:
        raise DagNotFound(f"{file} defines no DAG at module level")
    raise DagNotFound(
        f"{file} defines several DAGs ({', '.join(sorted(dags))}); choose one with --dag-id"
    )


def _search_folder(dag_id: str, folder: Path) -> DAG:
    if not folder.is_dir():
        raise DagNotFound(f"DAG {dag_id!r} not found: dags folder {folder} does not exist")
    broken: list[DagImportError] = []
    for file in iter_dag_files(folder):
        try:
            dags = load_dag_file(file)
        except DagImportError as exc:
            # An unrelated broken file must not hide the DAG we are looking for.
            broken.append(exc)
            continue
        if dag_id in dags:
            return dags[dag_id]
    message = f"DAG {dag_id!r} not found in dags folder {folder}"
    if broken:
        names = ", ".join(str(Path(e.path).relative_to(folder)) if _is_under(e.path, folder)
                          else e.path for e in broken)
        message += f" ({len(broken)} file(s) failed to import: {names})"
    raise DagNotFound(message)


def _is_under(path: str, folder: Path) -> bool:
    try:
        Path(path).relative_to(folder)
    except ValueError:
        return False
    return True
