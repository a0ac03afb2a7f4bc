"""Figures that task code reports: counters, gauges and histograms with the try's context.

Inside a try (:func:`start_try` ... :func:`end_try`), each call is sent to StatsD at once
and kept, summed per series, to travel back to the scheduler with the try's outcome; the
scheduler adds them to its Prometheus families (the worker's group). So a try forked in a
process of its own needs no shared files, and the figures of a try that ran on another
machine arrive the same way. Outside a try, a call records in this process directly.

A try that is killed reports no outcome. So that its figures are not lost with it, a try
the local executor forks also keeps them so far in a file (:func:`spill_to`), rewritten
at most every :data:`SPILL_INTERVAL_S` after a call; the executor adds that file's figures
to the outcome it reports for the killed try. Only the calls of its last moments are lost.

Every series carries ``dag``, ``task`` and ``run_type`` labels from the try (run ids are
not labels: they would grow without end); a call's own labels may override them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from millstream.observability import families as f
from millstream.private_files import write_private_text

log = logging.getLogger("millstream.observability")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KINDS = ("counter", "gauge", "histogram")
MAX_OBSERVATIONS = 10_000
"""Observations of one histogram series kept per try; more are dropped with a warning."""
CONTEXT_LABELS = ("dag", "task", "run_type")
SPILL_INTERVAL_S = 1.0
"""At most this often a try rewrites the file of its figures so far (:func:`spill_to`)."""


@dataclass
class _TryMetrics:
    context: dict[str, str]
    values: dict[tuple[str, str, tuple[tuple[str, str], ...]], Any] = field(
        default_factory=dict)
    shapes: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    builtin: dict[tuple[str, str, str], int] = field(default_factory=dict)
    spill: str | os.PathLike[str] | None = None  # the file of its figures so far, if any
    spill_due: float = 0.0  # monotonic time from which the next call rewrites it


_current: _TryMetrics | None = None
_spill_path: str | os.PathLike[str] | None = None
_families: dict[str, Any] = {}  # Prometheus name -> family, created on first use


def prometheus_name(name: str, kind: str) -> str:
    """The Prometheus family of a user metric: ``millstream_`` + name (dots and dashes as
    underscores), ``_total`` added for a counter's samples by the client."""
    clean = name.replace(".", "_").replace("-", "_")
    if not _NAME.fullmatch(clean):
        raise ValueError(f"metric name {name!r}: use letters, digits, '_', '.' or '-', "
                         "not starting with a digit")
    if kind == "counter":
        clean = clean.removesuffix("_total")
    return f"millstream_{clean}"


def record(kind: str, name: str, value: float, labels: dict[str, Any]) -> None:
    """One call of :func:`millstream.metrics.counter` (or gauge, histogram)."""
    from millstream.observability.emit import CONFIG

    if kind not in _KINDS:
        raise ValueError(f"unknown metric kind {kind!r}; allowed: {', '.join(_KINDS)}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"metric {name!r}: the value must be a number, not "
                         f"{value!r}") from None
    if kind == "counter" and number < 0:
        raise ValueError(f"counter {name!r} can only go up: {number!r} is negative")
    family = prometheus_name(name, kind)
    for label in labels:
        if not _NAME.fullmatch(label) or label.startswith("__"):
            raise ValueError(f"metric {name!r}: bad label name {label!r}")
    if family in _builtin_names():
        raise ValueError(f"metric {name!r} would be {family}, one of millstream's own")
    if not CONFIG.enabled:
        return
    current = _current
    merged = {**(current.context if current else dict.fromkeys(CONTEXT_LABELS, "")),
              **{str(k): str(v) for k, v in labels.items()}}
    statsd = CONFIG.statsd
    if statsd is not None:
        send = {"counter": statsd.incr, "gauge": statsd.gauge,
                "histogram": statsd.timing}[kind]
        send(family.removeprefix("millstream_"), number, merged)
    if current is None:
        _apply(kind, family, number, merged)
        return
    names = tuple(sorted(merged))
    shape = current.shapes.setdefault(family, (kind, names))
    if shape != (kind, names):
        raise ValueError(f"metric {name!r} was a {shape[0]} with labels {list(shape[1])}; "
                         f"now a {kind} with labels {list(names)}: keep one kind and one "
                         "set of labels per name")
    series = (kind, family, tuple(sorted(merged.items())))
    if kind == "counter":
        current.values[series] = current.values.get(series, 0.0) + number
    elif kind == "gauge":
        current.values[series] = number
    else:
        observed = current.values.setdefault(series, [])
        if len(observed) < MAX_OBSERVATIONS:
            observed.append(number)
        elif len(observed) == MAX_OBSERVATIONS:
            log.warning("histogram %s: more than %d observations in one try; the rest are "
                        "dropped", name, MAX_OBSERVATIONS)
    if current.spill is not None and time.monotonic() >= current.spill_due:
        _spill(current)


def _spill(current: _TryMetrics) -> None:
    assert current.spill is not None
    current.spill_due = time.monotonic() + SPILL_INTERVAL_S
    folder, name = os.path.split(os.fspath(current.spill))
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        write_private_text(temporary, json.dumps(list(_samples(current))))
        os.replace(temporary, current.spill)
    except OSError as exc:  # figures are never worth failing the task for
        log.warning("could not keep this try's metrics in %s: %s", current.spill, exc)
        current.spill = None


def spill_to(path: str | os.PathLike[str] | None) -> None:
    """The next try started in this process keeps its figures so far in ``path`` (see the
    module docstring); :func:`end_try` removes it."""
    global _spill_path
    _spill_path = path


def take_spilled(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The figures a try that was killed kept in ``path`` (as :func:`end_try` gives them),
    removing the file; nothing if it kept none."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return ()
    with contextlib.suppress(OSError):
        os.unlink(path)
    try:
        samples = json.loads(text)
    except ValueError:
        return ()
    return tuple(str(s) for s in samples) if isinstance(samples, list) else ()


_builtin: set[str] = set()


def _builtin_names() -> set[str]:
    if not _builtin:
        for registry in (f.GROUPS.scheduler, f.GROUPS.worker, f.GROUPS.triggerer):
            _builtin.update(registry._names_to_collectors)  # every sample name it exports
        _builtin.difference_update(_families)
        _builtin.update(f.DB_FAMILIES)
    return _builtin


def start_try(context: dict[str, str]) -> None:
    """Keep the calls of task code from now on for the try of ``context`` (its labels)."""
    global _current, _spill_path
    _current = _TryMetrics(dict(context), spill=_spill_path)
    _spill_path = None


def end_try() -> tuple[str, ...]:
    """The calls kept since :func:`start_try`, as JSON texts for the try's outcome."""
    global _current
    current, _current = _current, None
    if current is None:
        return ()
    if current.spill is not None:  # the outcome carries them: the file must not count
        with contextlib.suppress(OSError):
            os.unlink(current.spill)
    return _samples(current)


def _samples(current: _TryMetrics) -> tuple[str, ...]:
    samples = [json.dumps({"kind": kind, "name": family, "value": value,
                           "labels": dict(labels)})
               for (kind, family, labels), value in current.values.items()]
    samples.extend(json.dumps({"kind": "builtin", "name": name,
                               "labels": {"dag": dag, "kind": what}, "value": count})
                   for (name, dag, what), count in current.builtin.items())
    return tuple(samples)


def record_in_try(name: str, dag_id: str, kind: str) -> bool:
    """Count one of millstream's own figures in the current try, if there is one."""
    current = _current
    if current is None:
        return False
    key = (name, dag_id, kind)
    current.builtin[key] = current.builtin.get(key, 0) + 1
    return True


def apply_samples(samples: tuple[str, ...]) -> None:
    """Add what a try kept (:func:`end_try`) to this process's families."""
    from millstream.observability import emit

    for text in samples:
        try:
            sample = json.loads(text)
            kind, family, value = sample["kind"], sample["name"], sample["value"]
            labels = {str(k): str(v) for k, v in sample["labels"].items()}
            if kind == "builtin":
                for _ in range(int(value)):
                    emit.callback_failed(labels["dag"], labels["kind"])
                continue
            _apply(kind, family, value, labels)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ignoring a metric a try reported (%s): %.200s", exc, text)


def _apply(kind: str, family: str, value: Any, labels: dict[str, str]) -> None:
    names = tuple(sorted(labels))
    metric = _families.get(family)
    if metric is None:
        if family in _builtin_names():
            raise ValueError(f"{family} is one of millstream's own metrics")
        make = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}[kind]
        metric = make(family, f"{f.TASK_CODE_HELP} ({kind}).", names,
                      registry=f.GROUPS.worker)
        _families[family] = metric
    if metric._type != kind or tuple(metric._labelnames) != names:
        raise ValueError(f"{family} is a {metric._type} with labels "
                         f"{list(metric._labelnames)}, not a {kind} with {list(names)}")
    child = metric.labels(**labels)
    if kind == "counter":
        child.inc(float(value))
    elif kind == "gauge":
        child.set(float(value))
    else:
        for number in value if isinstance(value, list) else [value]:
            child.observe(float(number))


def user_families() -> dict[str, str]:
    """The families task code created in this process, and their kinds."""
    return {name: metric._type for name, metric in _families.items()}
