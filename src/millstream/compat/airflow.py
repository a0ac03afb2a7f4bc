"""Opt-in Airflow compatibility: a sys.meta_path finder that serves ``airflow.*`` from millstream.

With it enabled, ``from airflow import DAG`` gives :class:`millstream.DAG`,
``from airflow.operators.python import PythonOperator`` millstream's PythonOperator, and
so on for every module of :mod:`millstream.compat.airflow_modules`. There is no
``airflow`` package on disk: the modules exist only in ``sys.modules`` of a process that
enabled the layer, so a real Airflow installation is never shadowed by accident, and
:func:`enable` refuses to run where one is importable.

A module or name that is not in the table is an ImportError saying that millstream does
not support it and what it does support. The layer is turned on by the setting
``compat.airflow = true`` (``MILLSTREAM__COMPAT__AIRFLOW=true``, or ``millstream
--airflow-compat``): the DAG file loader calls :func:`enable_if_configured` before each
file, in every process that loads DAG files (parsing workers, the fork server and its
tries, callback processes, ``dags test``). Tests that load Airflow DAG files themselves
call :func:`enable` (in a conftest).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.machinery
import importlib.util
import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from millstream.compat.airflow_modules import (
    MODULES,
    PACKAGES,
    UNSUPPORTED,
    names_of,
    submodules,
)
from millstream.exceptions import MillstreamError
from millstream.secrets import backends

ENV_VAR = "MILLSTREAM__COMPAT__AIRFLOW"
DOCS = "docs/migrating-from-airflow.md"
_PREFIX = "millstream's Airflow compatibility"
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off", ""})
_MAX_LISTED = 24
_AIRFLOW_ENV_PREFIXES = ("AIRFLOW_CONN_", "AIRFLOW_VAR_")


class AirflowCompatError(MillstreamError):
    """The compatibility layer cannot be enabled here (or its setting is wrong)."""


# -- messages -------------------------------------------------------------------------------
def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f" ... ({len(items)} in all)" if len(items) > _MAX_LISTED else "")


def unsupported_module_message(fullname: str) -> str:
    """Why ``fullname`` cannot be imported, with what its nearest served package offers."""
    parent = fullname.rpartition(".")[0]
    last = fullname.rpartition(".")[2]
    if parent in MODULES and last not in submodules(parent):
        # `from airflow.operators.python import X` asks for the module `...python.X` first
        supported = names_of(parent)
        close = difflib.get_close_matches(last, supported, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return (f"{_PREFIX} does not support {last} from {parent}{hint} — {parent} provides: "
                f"{_listing(supported)}; see {DOCS}")
    while parent and parent not in PACKAGES:
        parent = parent.rpartition(".")[0]
    served = sorted(m for m in MODULES if m.startswith(parent + ".")) if parent else []
    close = difflib.get_close_matches(fullname, list(PACKAGES), n=1, cutoff=0.9)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return (f"{_PREFIX} does not support {fullname} (module){hint} — supported under "
            f"{parent or 'airflow'}: {_listing(served or sorted(MODULES))}; see {DOCS}")


def unsupported_name_message(module: str, name: str) -> str:
    """Why ``name`` is not in served module ``module``, with the names it does provide."""
    supported = names_of(module)
    inside = submodules(module)
    offers = f"names: {_listing(supported)}" if supported else ""
    if inside:
        offers += ("; " if offers else "") + f"modules: {_listing(inside)}"
    close = difflib.get_close_matches(name, supported, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return (f"{_PREFIX} does not support {name} from {module}{hint} — {module} provides "
            f"{offers or 'nothing'}; see {DOCS}")


# -- the served modules -----------------------------------------------------------------------
def _resolve(module: str, name: str) -> Any:
    """The millstream object behind ``module.name``; ImportError if it is not there (yet)."""
    target = MODULES[module][name]
    if target.startswith("!"):
        feature, _, instead = target[1:].partition("|")
        raise ImportError(
            f"{_PREFIX} does not support {feature} ({name} from {module}): {instead}; "
            f"see {DOCS}", name=module)
    where, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(where), attribute)
    except (ImportError, AttributeError) as exc:
        raise ImportError(
            f"{_PREFIX} does not support {name} from {module} yet: its millstream "
            f"counterpart {where}.{attribute} is not available ({exc}); see {DOCS}",
            name=module,
        ) from exc


def _module_getattr(module: ModuleType) -> Any:
    """A PEP 562 ``__getattr__`` for a served module: names resolve on first use."""
    fullname = module.__name__

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(f"module {fullname!r} has no attribute {name!r}")
        if name in MODULES.get(fullname, {}):
            value = _resolve(fullname, name)
            setattr(module, name, value)  # later lookups skip this function
            return value
        if name in submodules(fullname):
            return importlib.import_module(f"{fullname}.{name}")
        raise AttributeError(unsupported_name_message(fullname, name))

    return __getattr__


class _AirflowFinder:
    """Finds and loads the ``airflow.*`` modules of the table (a meta path finder and loader)."""

    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "airflow" and not fullname.startswith("airflow."):
            return None
        for module, (feature, instead) in UNSUPPORTED.items():
            if fullname == module or fullname.startswith(module + "."):
                raise ImportError(f"{_PREFIX} does not support {feature} ({fullname}): "
                                  f"{instead}; see {DOCS}", name=fullname)
        if fullname not in PACKAGES:
            # A plain ImportError, not ModuleNotFoundError: the import system swallows the
            # latter for `from package import name`, and this message would be lost.
            raise ImportError(unsupported_module_message(fullname), name=fullname)
        # Every served module is a package: `from airflow.x import Unknown` then asks this
        # finder for `airflow.x.Unknown`, which answers with the message above.
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        fullname = module.__name__
        names = names_of(fullname)
        module.__doc__ = (f"{fullname}, served by {_PREFIX} (names resolve to millstream "
                          f"objects on first use); see {DOCS}")
        module.__all__ = names  # type: ignore[attr-defined]
        module.__getattr__ = _module_getattr(module)  # type: ignore[method-assign]
        module.__dir__ = lambda: sorted({*names, *submodules(fullname)})  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return "<millstream Airflow compatibility finder>"


_FINDER = _AirflowFinder()


# -- enabling ---------------------------------------------------------------------------------
def is_enabled() -> bool:
    """Whether this process serves ``airflow.*`` imports from millstream."""
    return _FINDER in sys.meta_path


def real_airflow_location() -> str | None:
    """Where a real Apache Airflow is importable from in this process, or None."""
    loaded = sys.modules.get("airflow")
    if loaded is not None and getattr(loaded, "__loader__", None) is not _FINDER:
        return str(getattr(loaded, "__file__", None) or loaded)
    try:
        spec = importlib.util.find_spec("airflow")
    except (ImportError, ValueError):
        spec = None
    # A bare folder named "airflow" (a namespace package, e.g. a project folder) is not
    # an installation; a package with a file is.
    if spec is not None and spec.has_location and spec.origin:
        return spec.origin
    from importlib import metadata  # only here: it is slow to import, and rarely needed

    try:
        distribution = metadata.distribution("apache-airflow")
    except metadata.PackageNotFoundError:
        return None
    return f"apache-airflow {distribution.version} at {distribution.locate_file('')}"


def enable() -> None:
    """Serve ``airflow.*`` imports from millstream in this process (again: no effect).

    Raises :class:`AirflowCompatError` when the real Apache Airflow is importable here.
    """
    if is_enabled():
        return
    location = real_airflow_location()
    if location is not None:
        raise AirflowCompatError(
            f"the real Apache Airflow is installed in this environment ({location}); "
            f"{_PREFIX} layer would shadow it — uninstall it or turn compat.airflow off"
        )
    sys.meta_path.insert(0, _FINDER)
    importlib.invalidate_caches()
    # As in Airflow, connections and variables may come from AIRFLOW_CONN_* / AIRFLOW_VAR_*
    # (millstream's own MILLSTREAM_CONN_* / MILLSTREAM_VAR_* win when both are set).
    backends.add_env_prefixes(*_AIRFLOW_ENV_PREFIXES)


def disable() -> None:
    """Stop serving ``airflow.*`` and forget the modules served so far (for tests)."""
    while _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    backends.remove_env_prefixes(*_AIRFLOW_ENV_PREFIXES)
    for name, module in list(sys.modules.items()):
        if (name == "airflow" or name.startswith("airflow.")) and \
                getattr(module, "__loader__", None) is _FINDER:
            del sys.modules[name]


def configured(environ: dict[str, str] | None = None) -> bool:
    """Whether the settings turn the layer on: ``MILLSTREAM__COMPAT__AIRFLOW``, else
    ``[compat] airflow`` in ``<home>/millstream.toml``.

    Read without loading every setting, so that loading a DAG file stays cheap; a value
    that is not a boolean raises :class:`AirflowCompatError` naming where it came from.
    """
    env = os.environ if environ is None else environ
    for name, value in env.items():
        if name.upper() == ENV_VAR:
            return _flag(value, f"env var {name}")
    home_text = env.get("MILLSTREAM__CORE__HOME") or env.get("MILLSTREAM_HOME") or "~/.millstream"
    return _file_flag(Path(home_text).expanduser() / "millstream.toml")


def _flag(value: object, origin: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise AirflowCompatError(
        f"bad setting compat.airflow = {value!r} (from {origin}): use true or false")


_file_cache: dict[tuple[str, int, int], bool] = {}


def _file_flag(path: Path) -> bool:
    try:
        stat = path.stat()
    except OSError:
        return False
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _file_cache:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return False  # reported, naming the file, wherever the settings are loaded
        section = data.get("compat")
        value = section.get("airflow", False) if isinstance(section, dict) else False
        _file_cache.clear()
        _file_cache[key] = _flag(value, str(path))
    return _file_cache[key]


def enable_if_configured() -> bool:
    """Enable the layer if the settings ask for it; True when it is enabled."""
    if is_enabled():
        return True
    if not configured():
        return False
    enable()
    return True


def import_hint(exc: BaseException) -> str | None:
    """For a DAG file that failed to import Airflow while the layer is off: how to turn it on."""
    if not isinstance(exc, ModuleNotFoundError) or is_enabled():
        return None
    if (exc.name or "").partition(".")[0] != "airflow":
        return None
    return ("this is an Airflow DAG file: to run it on millstream set compat.airflow = true "
            f"(env {ENV_VAR}=true, or `millstream --airflow-compat ...`); see {DOCS}")


__all__ = [
    "DOCS",
    "ENV_VAR",
    "AirflowCompatError",
    "configured",
    "disable",
    "enable",
    "enable_if_configured",
    "import_hint",
    "is_enabled",
    "real_airflow_location",
    "unsupported_module_message",
    "unsupported_name_message",
]
