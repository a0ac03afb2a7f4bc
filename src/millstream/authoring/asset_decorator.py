"""``@asset``: a function that materializes an asset, as its own one-task DAG (Airflow 3).

::

    @asset(schedule="@daily", uri="s3://lake/sales.csv")
    def sales(self, context, customers):
        ...

makes the Asset ``sales`` (the decorated name refers to it) and a DAG ``sales`` with one
task ``sales`` whose success updates it. The function's parameters are filled in when the
task runs: ``self`` is the asset, ``context`` the task's context, a context key
(``outlet_events``, ``dag_run`` ...) its value, and any other name is an inlet: the asset
of that name (made earlier in this process, see ``Asset.ref``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from millstream.authoring.assets import Asset
from millstream.authoring.dag import DAG
from millstream.authoring.task import BaseOperator

_FILLED = ("self", "context")
# Names a task's context has: a parameter so named gets the context's value, not an asset.
CONTEXT_KEYS = frozenset({
    "conf", "conn", "dag", "dag_run", "data_interval_end", "data_interval_start", "ds",
    "ds_nodash", "inlet_events", "inlets", "logical_date", "macros", "map_index",
    "outlet_events", "outlets", "params", "partition_key", "run_id", "task",
    "task_instance", "task_instance_key_str", "test_mode", "ti", "triggering_asset_events",
    "try_number", "ts", "ts_nodash", "ts_nodash_with_tz", "var",
})


class AssetDefinition(Asset):
    """The Asset an ``@asset`` function makes, with the DAG that materializes it."""

    __slots__ = ("dag", "function")

    dag: DAG
    function: Callable[..., Any]


class _MaterializeAsset(BaseOperator):
    """Runs an ``@asset`` function with the asset, the context and its inlet assets."""

    def __init__(self, *, definition: AssetDefinition, function: Callable[..., Any],
                 **kwargs: Any) -> None:
        inlet_names = [p for p in inspect.signature(function).parameters
                       if p not in _FILLED and p not in CONTEXT_KEYS]
        super().__init__(outlets=[definition], inlets=[Asset.ref(name=n) for n in inlet_names],
                         **kwargs)
        self.definition = definition
        self.function = function
        self.inlet_names = inlet_names

    def execute(self, context: dict[str, Any]) -> Any:
        parameters = inspect.signature(self.function).parameters
        given: dict[str, Any] = dict(zip(self.inlet_names, self.inlets, strict=True))
        if "self" in parameters:
            given["self"] = self.definition
        if "context" in parameters:
            given["context"] = context
        for name in parameters:
            if name in CONTEXT_KEYS and name in context:
                given[name] = context[name]
        return self.function(**given)


def asset(*, schedule: Any, uri: str | None = None, name: str | None = None,
          group: str = "asset", extra: Mapping[str, Any] | None = None,
          **dag_kwargs: Any) -> Callable[[Callable[..., Any]], AssetDefinition]:
    """Decorator: the function materializes an asset, in a DAG of its own (see the module)."""

    def decorate(function: Callable[..., Any]) -> AssetDefinition:
        definition = AssetDefinition(name or function.__name__, uri, group=group, extra=extra)
        dag_kwargs.setdefault("doc_md", inspect.getdoc(function))
        dag_kwargs.setdefault("fileloc", inspect.getsourcefile(function))
        with DAG(function.__name__, schedule=schedule, **dag_kwargs) as dag:
            _MaterializeAsset(task_id=function.__name__, definition=definition,
                              function=function)
        object.__setattr__(definition, "dag", dag)
        object.__setattr__(definition, "function", function)
        return definition

    return decorate


__all__ = ["AssetDefinition", "asset"]
