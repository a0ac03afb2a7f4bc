"""The table of Airflow modules the compatibility layer serves: each name and its millstream object.

Every entry maps an ``airflow.*`` module name to the names it provides, and each name to
a target ``"millstream.module:attribute"``. Targets are imported on first use, so a DAG
file pays only for what it imports. Airflow 2 homes (``airflow.operators.python``) and
Airflow 3 homes (``airflow.providers.standard.operators.python``, ``airflow.sdk``) point
at the same objects. Packages that only lead to served modules (``airflow.providers``)
are served as empty packages.
"""

from __future__ import annotations

from types import MappingProxyType

_AUTHORING = "millstream.authoring"
_SHIMS = "millstream.compat.airflow_shims"

DAG = f"{_AUTHORING}.dag:DAG"
DAG_DECORATOR = f"{_AUTHORING}.dag:dag"
TASK = f"{_SHIMS}:task"
TASK_GROUP_DECORATOR = f"{_AUTHORING}.group_decorator:task_group"
TASK_GROUP = f"{_AUTHORING}.taskgroup:TaskGroup"
BASE_OPERATOR = f"{_AUTHORING}.task:BaseOperator"
CHAIN = f"{_AUTHORING}.dependencies:chain"
CROSS_DOWNSTREAM = f"{_AUTHORING}.dependencies:cross_downstream"
PARAM = f"{_AUTHORING}.params:Param"
PARAMS_DICT = f"{_AUTHORING}.params:ParamsDict"
XCOM_ARG = f"{_AUTHORING}.xcom_arg:XComArg"
ASSET = f"{_AUTHORING}.assets:Asset"
GET_CURRENT_CONTEXT = f"{_AUTHORING}.context:get_current_context"
TRIGGER_RULE = "millstream.model.trigger_rules:TriggerRule"
VARIABLE = "millstream.secrets.variable:Variable"
CONNECTION = "millstream.secrets.connection:Connection"
CONTEXT = f"{_SHIMS}:Context"
_EXPR = f"{_AUTHORING}.asset_expressions"
_TIMETABLES = f"{_AUTHORING}.timetables"
ASSET_ALIAS = f"{_EXPR}:AssetAlias"
TIMEZONE = "millstream.compat.airflow_timezone:timezone"
CONF = "millstream.compat.airflow_config:conf"
OBJECT_STORAGE_PATH = "millstream.compat.airflow_io:ObjectStoragePath"


def unsupported(feature: str, instead: str) -> str:
    """A table target for a name millstream does not provide: importing it is an ImportError
    naming ``feature`` and saying what to use ``instead``."""
    return f"!{feature}|{instead}"


_ASSETS = {
    "Asset": ASSET,
    "AssetAlias": ASSET_ALIAS,
    "AssetAny": f"{_EXPR}:AssetAny",
    "AssetAll": f"{_EXPR}:AssetAll",
    "Metadata": f"{_EXPR}:Metadata",
    "AssetAccessControl": f"{_EXPR}:AssetAccessControl",
}
_DATASETS = {
    "Dataset": ASSET,
    "DatasetAlias": ASSET_ALIAS,
    "DatasetAny": f"{_EXPR}:AssetAny",
    "DatasetAll": f"{_EXPR}:AssetAll",
}
_BUILTIN_TIMETABLES = {
    "CronTriggerTimetable": f"{_TIMETABLES}:CronTriggerTimetable",
    **{name: f"{_AUTHORING}.builtin_timetables:{name}" for name in (
        "CronDataIntervalTimetable", "DeltaDataIntervalTimetable", "DeltaTriggerTimetable",
        "EventsTimetable", "MultipleCronTriggerTimetable")},
}
_TIMETABLE_BASE = {
    "Timetable": f"{_TIMETABLES}:Timetable",
    "DataInterval": f"{_TIMETABLES}:DataInterval",
    "DagRunInfo": f"{_TIMETABLES}:DagRunInfo",
    "TimeRestriction": f"{_TIMETABLES}:TimeRestriction",
}
_TIMEZONE_FUNCTIONS = {
    name: f"millstream.compat.airflow_timezone:{name}"
    for name in ("coerce_datetime", "convert_to_utc", "datetime", "is_localized", "is_naive",
                 "make_aware", "make_naive", "parse", "utc", "utcnow")
}
_STATE_STORE = "millstream.model.state_retention:NEVER_EXPIRE"
_RETRY_POLICY = f"{_AUTHORING}.retry_policy"

_EXTERNAL_PYTHON = "millstream.operators.external_python"
_BRANCH = "millstream.operators.branch"
_PYTHON_OPERATORS = {
    "PythonOperator": "millstream.operators.python:PythonOperator",
    "BranchPythonOperator": "millstream.operators.python:BranchPythonOperator",
    "ShortCircuitOperator": "millstream.operators.python:ShortCircuitOperator",
    "get_current_context": GET_CURRENT_CONTEXT,
    "ExternalPythonOperator": f"{_EXTERNAL_PYTHON}:ExternalPythonOperator",
    "PythonVirtualenvOperator": f"{_EXTERNAL_PYTHON}:PythonVirtualenvOperator",
    "BranchExternalPythonOperator": f"{_EXTERNAL_PYTHON}:BranchExternalPythonOperator",
    "BranchPythonVirtualenvOperator": f"{_EXTERNAL_PYTHON}:BranchPythonVirtualenvOperator",
}
_LATEST_ONLY = {"LatestOnlyOperator": f"{_BRANCH}:LatestOnlyOperator"}
_DATETIME_BRANCH = {"BranchDateTimeOperator": f"{_BRANCH}:BranchDateTimeOperator"}
_WEEKDAY_BRANCH = {"BranchDayOfWeekOperator": f"{_BRANCH}:BranchDayOfWeekOperator"}
_WEEKDAY = {"WeekDay": f"{_BRANCH}:WeekDay"}
_BASE_BRANCH = {"BaseBranchOperator": f"{_BRANCH}:BaseBranchOperator"}
_EMPTY = {"EmptyOperator": "millstream.operators.empty:EmptyOperator"}
_BASH = {"BashOperator": "millstream.operators.bash:BashOperator"}
_TRIGGER_DAGRUN = {
    "TriggerDagRunOperator": "millstream.operators.trigger_dagrun:TriggerDagRunOperator",
}
_EMAIL = {"EmailOperator": "millstream.operators.email:EmailOperator"}
_SENSOR_BASE = {
    "BaseSensorOperator": "millstream.sensors.base:BaseSensorOperator",
    "PokeReturnValue": "millstream.sensors.base:PokeReturnValue",
}
_FILE_SENSOR = {"FileSensor": "millstream.sensors.filesystem:FileSensor"}
_EXTERNAL_TASK_SENSOR = {
    "ExternalTaskSensor": "millstream.sensors.external_task:ExternalTaskSensor",
    "ExternalTaskMarker": "millstream.sensors.external_task:ExternalTaskMarker",
}
_PYTHON_SENSOR = {"PythonSensor": "millstream.sensors.python:PythonSensor"}
_BASH_SENSOR = {"BashSensor": "millstream.sensors.bash:BashSensor"}
_WEEKDAY_SENSOR = {"DayOfWeekSensor": "millstream.sensors.bash:DayOfWeekSensor"}
_TIME_SENSORS = {"TimeSensor": "millstream.sensors.time:TimeSensor",
                 "TimeSensorAsync": "millstream.sensors.time:TimeSensorAsync"}
_TIME_DELTA_SENSORS = {
    "TimeDeltaSensor": "millstream.sensors.time:TimeDeltaSensor",
    "TimeDeltaSensorAsync": "millstream.sensors.time:TimeDeltaSensorAsync",
}
_DATE_TIME_SENSORS = {
    "DateTimeSensor": "millstream.sensors.time:DateTimeSensor",
    "DateTimeSensorAsync": "millstream.sensors.time:DateTimeSensorAsync",
}
_BASE_HOOK = {"BaseHook": "millstream.hooks.base:BaseHook"}
_CHAIN = {"chain": CHAIN, "cross_downstream": CROSS_DOWNSTREAM,
          "chain_linear": f"{_AUTHORING}.dependencies:chain_linear"}
_LABEL = {"Label": f"{_AUTHORING}.dependencies:Label"}
_SETUP_TEARDOWN = {"setup": "millstream.operators.decorators:setup",
                   "teardown": "millstream.operators.decorators:teardown"}

_EXCEPTIONS = {
    # AirflowException is the base of Airflow's own errors, as MillstreamError is of
    # millstream's: `except AirflowException` also catches a sensor's timeout or a skip.
    "AirflowException": "millstream.exceptions:MillstreamError",
    "AirflowSkipException": "millstream.exceptions:TaskSkipped",
    "AirflowFailException": "millstream.exceptions:TaskFailedNoRetry",
    "AirflowSensorTimeout": "millstream.exceptions:SensorTimeout",
    "AirflowTaskTimeout": "millstream.exceptions:TaskTimeout",
    "AirflowRescheduleException": "millstream.exceptions:TaskRescheduled",
    "TaskDeferred": "millstream.exceptions:TaskDeferred",
    "TaskDeferralError": "millstream.exceptions:TaskDeferralError",
    # the common base of ConnectionNotFound and VariableNotFound (both KeyErrors)
    "AirflowNotFoundException": "millstream.secrets.errors:_NotFound",
    "AirflowDagCycleException": "millstream.exceptions:DagCycleError",
    "DuplicateTaskIdFound": "millstream.exceptions:DuplicateTaskIdError",
    "ParamValidationError": "millstream.exceptions:ParamValidationError",
}

_DEADLINE = {
    "DeadlineAlert": f"{_AUTHORING}.deadline:DeadlineAlert",
    "DeadlineReference": f"{_AUTHORING}.deadline:DeadlineReference",
    "AsyncCallback": "millstream.compat.airflow_deadline:AsyncCallback",
    "SyncCallback": "millstream.compat.airflow_deadline:SyncCallback",
}

_SDK = {
    "DAG": DAG,
    **_DEADLINE,
    "dag": DAG_DECORATOR,
    "task": TASK,
    "task_group": TASK_GROUP_DECORATOR,
    "TaskGroup": TASK_GROUP,
    "Asset": ASSET,
    "Variable": VARIABLE,
    "Connection": CONNECTION,
    "BaseOperator": BASE_OPERATOR,
    "BaseSensorOperator": "millstream.sensors.base:BaseSensorOperator",
    "PokeReturnValue": "millstream.sensors.base:PokeReturnValue",
    "BaseHook": "millstream.hooks.base:BaseHook",
    **_CHAIN,
    **_LABEL,
    **_SETUP_TEARDOWN,
    "get_current_context": GET_CURRENT_CONTEXT,
    "Param": PARAM,
    "TriggerRule": TRIGGER_RULE,
    "Context": CONTEXT,
    "XComArg": XCOM_ARG,
    **_ASSETS,
    "AssetOrTimeSchedule": f"{_EXPR}:AssetOrTimeSchedule",
    "asset": f"{_AUTHORING}.asset_decorator:asset",
    "AssetWatcher": f"{_AUTHORING}.asset_watchers:AssetWatcher",
    **_BUILTIN_TIMETABLES,
    "ParamsDict": PARAMS_DICT,
    "ObjectStoragePath": OBJECT_STORAGE_PATH,
    "timezone": TIMEZONE,
    "BaseNotifier": "millstream.notify.base:BaseNotifier",
    "DagRunState": "millstream.model.states:DagRunState",
    "TaskInstanceState": "millstream.model.states:TaskState",
    **{name: f"{_AUTHORING}.partitions:{name}" for name in (
        "AllowedKeyMapper", "CronPartitionTimetable", "DayWindow", "FanOutMapper",
        "FixedKeyMapper", "IdentityMapper", "MinimumCount", "MonthWindow",
        "PartitionedAssetTimetable", "PartitionedAtRuntime", "ProductMapper", "RollupMapper",
        "SegmentWindow", "StartOfDayMapper", "StartOfHourMapper", "StartOfMonthMapper",
        "StartOfWeekMapper", "StartOfYearMapper", "WaitForAll", "WeekWindow", "Window")},
    **{name: f"{_RETRY_POLICY}:{name}"
       for name in ("ExceptionRetryPolicy", "RetryRule", "RetryAction", "RetryDecision")},
}

_STANDARD = "airflow.providers.standard"
_TRIGGERS = "millstream.triggerer.triggers"

_TABLE: dict[str, dict[str, str]] = {
    # -- the DAG and the models ---------------------------------------------------------------
    "airflow": {"DAG": DAG, "Dataset": ASSET, "DatasetAlias": ASSET_ALIAS},
    "airflow.models": {
        "DAG": DAG,
        "BaseOperator": BASE_OPERATOR,
        "Variable": VARIABLE,
        "Connection": CONNECTION,
        "Param": PARAM,
        "DagBag": "millstream.parsing.dagbag:DagBag",
        # what a task's context holds as "ti" and "dag_run", for type hints and isinstance
        "TaskInstance": "millstream.runtime.context:RuntimeTaskInstance",
        "DagRun": "millstream.runtime.context:RuntimeDagRun",
        "XComArg": XCOM_ARG,
    },
    "airflow.models.dag": {"DAG": DAG},
    "airflow.models.dagbag": {"DagBag": "millstream.parsing.dagbag:DagBag"},
    "airflow.models.baseoperator": {"BaseOperator": BASE_OPERATOR, **_CHAIN},
    "airflow.models.param": {"Param": PARAM, "ParamsDict": PARAMS_DICT},
    "airflow.models.variable": {"Variable": VARIABLE},
    "airflow.models.connection": {"Connection": CONNECTION},
    "airflow.models.taskinstance": {
        "TaskInstance": "millstream.runtime.context:RuntimeTaskInstance",
    },
    "airflow.models.dagrun": {"DagRun": "millstream.runtime.context:RuntimeDagRun"},
    "airflow.models.xcom_arg": {"XComArg": XCOM_ARG},
    "airflow.datasets": _DATASETS,
    "airflow.models.dataset": _DATASETS,
    "airflow.assets": _ASSETS,
    "airflow.sdk.definitions.asset": _ASSETS,
    "airflow.sdk.definitions.asset.metadata": {"Metadata": f"{_EXPR}:Metadata"},
    "airflow.sdk.definitions.deadline": _DEADLINE,
    "airflow.sdk.definitions.callback": {
        name: _DEADLINE[name] for name in ("AsyncCallback", "SyncCallback")
    },
    "airflow.timetables.base": _TIMETABLE_BASE,
    "airflow.io.path": {"ObjectStoragePath": OBJECT_STORAGE_PATH},
    "airflow.sdk.io": {"ObjectStoragePath": OBJECT_STORAGE_PATH},
    "airflow.example_dags.plugins.decreasing_priority_weight_strategy": {
        "DecreasingPriorityStrategy":
            "millstream.compat.airflow_example_plugins:DecreasingPriorityStrategy",
    },
    "airflow.task.priority_strategy": {
        "PriorityWeightStrategy": f"{_AUTHORING}.priority:PriorityWeightStrategy",
    },
    "airflow.example_dags.plugins.workday": {
        "AfterWorkdayTimetable": "millstream.compat.airflow_example_plugins:AfterWorkdayTimetable",
    },
    "airflow.timetables.trigger": {
        name: _BUILTIN_TIMETABLES[name] for name in (
            "CronTriggerTimetable", "DeltaTriggerTimetable", "MultipleCronTriggerTimetable")
    },
    "airflow.timetables.interval": {
        name: _BUILTIN_TIMETABLES[name] for name in (
            "CronDataIntervalTimetable", "DeltaDataIntervalTimetable")
    },
    "airflow.timetables.events": {"EventsTimetable": _BUILTIN_TIMETABLES["EventsTimetable"]},
    "airflow.timetables.assets": {"AssetOrTimeSchedule": f"{_EXPR}:AssetOrTimeSchedule"},
    "airflow.configuration": {"conf": CONF,
                              "AirflowConfigException":
                              "millstream.compat.airflow_config:AirflowConfigException"},
    "airflow.sdk.timezone": _TIMEZONE_FUNCTIONS,
    "airflow.utils.timezone": _TIMEZONE_FUNCTIONS,
    "airflow.sdk.exceptions": _EXCEPTIONS,
    "airflow.sdk.bases.notifier": {"BaseNotifier": "millstream.notify.base:BaseNotifier"},
    "airflow.sdk.bases.operator": {"BaseOperator": BASE_OPERATOR, **_CHAIN},
    "airflow.sdk.bases.sensor": _SENSOR_BASE,
    "airflow.sdk.bases.hook": _BASE_HOOK,
    "airflow.sdk.execution_time.context": {"NEVER_EXPIRE": _STATE_STORE},
    "airflow.providers.common.compat.sdk": {**_SDK, **_EXCEPTIONS},
    "airflow.providers.common.compat.assets": _ASSETS,
    # -- operators: Airflow 2 homes, then Airflow 3's standard provider -----------------------
    "airflow.operators.python": _PYTHON_OPERATORS,
    "airflow.operators.empty": _EMPTY,
    "airflow.operators.dummy": {"DummyOperator": "millstream.operators.empty:EmptyOperator"},
    "airflow.operators.bash": _BASH,
    "airflow.operators.trigger_dagrun": _TRIGGER_DAGRUN,
    "airflow.operators.email": _EMAIL,
    f"{_STANDARD}.operators.python": _PYTHON_OPERATORS,
    f"{_STANDARD}.operators.empty": _EMPTY,
    f"{_STANDARD}.operators.bash": _BASH,
    f"{_STANDARD}.operators.trigger_dagrun": _TRIGGER_DAGRUN,
    "airflow.operators.latest_only": _LATEST_ONLY,
    "airflow.operators.datetime": _DATETIME_BRANCH,
    "airflow.operators.weekday": _WEEKDAY_BRANCH,
    "airflow.operators.branch": _BASE_BRANCH,
    f"{_STANDARD}.operators.latest_only": _LATEST_ONLY,
    f"{_STANDARD}.operators.datetime": _DATETIME_BRANCH,
    f"{_STANDARD}.operators.weekday": _WEEKDAY_BRANCH,
    f"{_STANDARD}.operators.branch": _BASE_BRANCH,
    f"{_STANDARD}.operators.hitl": {
        name: f"millstream.operators.hitl:{name}"
        for name in ("HITLOperator", "ApprovalOperator", "HITLBranchOperator",
                     "HITLEntryOperator")
    },
    f"{_STANDARD}.utils.weekday": _WEEKDAY,
    "airflow.utils.weekday": _WEEKDAY,
    "airflow.utils.edgemodifier": _LABEL,
    "airflow.providers.smtp.operators.smtp": _EMAIL,
    "airflow.providers.common.sql.operators.sql": {
        "SQLExecuteQueryOperator": "millstream.operators.sql:SQLExecuteQueryOperator",
    },
    "airflow.providers.postgres.operators.postgres": {
        "PostgresOperator": "millstream.compat.airflow_sql:PostgresOperator",
    },
    "airflow.providers.sqlite.operators.sqlite": {
        "SqliteOperator": "millstream.compat.airflow_sql:SqliteOperator",
    },
    # -- sensors ------------------------------------------------------------------------------
    "airflow.sensors.base": _SENSOR_BASE,
    "airflow.sensors.filesystem": _FILE_SENSOR,
    "airflow.sensors.external_task": _EXTERNAL_TASK_SENSOR,
    "airflow.sensors.python": _PYTHON_SENSOR,
    "airflow.sensors.time_delta": _TIME_DELTA_SENSORS,
    "airflow.sensors.date_time": _DATE_TIME_SENSORS,
    f"{_STANDARD}.sensors.filesystem": _FILE_SENSOR,
    f"{_STANDARD}.sensors.external_task": _EXTERNAL_TASK_SENSOR,
    f"{_STANDARD}.sensors.python": _PYTHON_SENSOR,
    f"{_STANDARD}.sensors.time_delta": _TIME_DELTA_SENSORS,
    f"{_STANDARD}.sensors.date_time": _DATE_TIME_SENSORS,
    "airflow.sensors.bash": _BASH_SENSOR,
    "airflow.sensors.weekday": _WEEKDAY_SENSOR,
    "airflow.sensors.time_sensor": _TIME_SENSORS,
    f"{_STANDARD}.sensors.bash": _BASH_SENSOR,
    f"{_STANDARD}.sensors.weekday": _WEEKDAY_SENSOR,
    f"{_STANDARD}.sensors.time": _TIME_SENSORS,
    "airflow.providers.http.sensors.http": {"HttpSensor": "millstream.sensors.http:HttpSensor"},
    "airflow.providers.common.sql.sensors.sql": {"SqlSensor": "millstream.sensors.sql:SqlSensor"},
    # -- triggers (deferrable operators, asset watchers) -------------------------------------
    f"{_STANDARD}.triggers.file": {
        name: f"{_TRIGGERS}.file:{name}"
        for name in ("FileTrigger", "FileDeleteTrigger", "DirectoryFileDeleteTrigger")
    },
    f"{_STANDARD}.triggers.temporal": {
        name: f"{_TRIGGERS}.time:{name}" for name in ("DateTimeTrigger", "TimeDeltaTrigger")
    },
    "airflow.triggers.base": {
        "BaseTrigger": "millstream.triggerer.base:BaseTrigger",
        "BaseEventTrigger": "millstream.triggerer.base:BaseTrigger",
        "TriggerEvent": "millstream.triggerer.base:TriggerEvent",
    },
    # -- hooks --------------------------------------------------------------------------------
    "airflow.hooks.base": _BASE_HOOK,
    "airflow.providers.common.sql.hooks.sql": {"DbApiHook": "millstream.hooks.dbapi:DbApiHook"},
    "airflow.providers.postgres.hooks.postgres": {
        "PostgresHook": "millstream.hooks.postgres:PostgresHook",
    },
    "airflow.providers.sqlite.hooks.sqlite": {"SqliteHook": "millstream.hooks.sqlite:SqliteHook"},
    "airflow.providers.http.hooks.http": {"HttpHook": "millstream.hooks.http:HttpHook"},
    # -- utilities ----------------------------------------------------------------------------
    "airflow.utils.task_group": {"TaskGroup": TASK_GROUP},
    "airflow.utils.trigger_rule": {"TriggerRule": TRIGGER_RULE},
    "airflow.utils.decorators": {"apply_defaults": "millstream.sensors.base:apply_defaults"},
    "airflow.utils.dates": {"days_ago": f"{_SHIMS}:days_ago"},
    "airflow.utils.state": {
        "State": f"{_SHIMS}:State",
        "TaskInstanceState": "millstream.model.states:TaskState",
        "DagRunState": "millstream.model.states:DagRunState",
    },
    "airflow.utils.context": {"Context": CONTEXT},
    "airflow.utils.helpers": _CHAIN,
    "airflow.macros": {
        "ds_add": f"{_AUTHORING}.macros:ds_add",
        "ds_format": f"{_AUTHORING}.macros:ds_format",
    },
    "airflow.exceptions": _EXCEPTIONS,
    # -- TaskFlow and the Airflow 3 task SDK --------------------------------------------------
    "airflow.decorators": {
        "dag": DAG_DECORATOR,
        "task": TASK,
        "task_group": TASK_GROUP_DECORATOR,
        **_SETUP_TEARDOWN,
    },
    "airflow.sdk": _SDK,
}

UNSUPPORTED: MappingProxyType[str, tuple[str, str]] = MappingProxyType({
    "airflow.providers.cncf.kubernetes": (
        "the Kubernetes provider", "a BashOperator or PythonOperator that starts the workload",
    ),
})
"""Modules of features millstream does not have: (what the feature is, what to use instead)."""

MODULES: MappingProxyType[str, MappingProxyType[str, str]] = MappingProxyType(
    {module: MappingProxyType(dict(names)) for module, names in _TABLE.items()}
)
"""Every served module that provides names: module -> {name: "millstream.module:attribute"}."""


def _parents(names: list[str]) -> frozenset[str]:
    found: set[str] = set()
    for name in names:
        parts = name.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return frozenset(found)


PACKAGES: frozenset[str] = _parents([*MODULES, *UNSUPPORTED]) | frozenset(MODULES)
"""Every served module: those of :data:`MODULES` and the packages leading to them."""


def submodules(module: str) -> list[str]:
    """The served modules directly inside ``module`` (their last part only), sorted."""
    prefix = module + "."
    return sorted({m[len(prefix):].split(".")[0] for m in PACKAGES if m.startswith(prefix)})


def names_of(module: str) -> list[str]:
    """The names ``module`` provides, sorted (none for a package that only holds modules)."""
    return sorted(MODULES.get(module, {}))


__all__ = ["MODULES", "PACKAGES", "UNSUPPORTED", "names_of", "submodules", "unsupported"]
