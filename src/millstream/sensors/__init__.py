"""Sensors: tasks that wait for a condition (a time, a file, another DAG's task ...)."""

from millstream.sensors.base import BaseSensorOperator, PokeReturnValue, apply_defaults
from millstream.sensors.external_task import ExternalTaskSensor
from millstream.sensors.filesystem import FileSensor
from millstream.sensors.http import HttpSensor
from millstream.sensors.python import PythonSensor
from millstream.sensors.sql import SqlSensor
from millstream.sensors.time import (
    DateTimeSensor,
    DateTimeSensorAsync,
    TimeDeltaSensor,
    TimeDeltaSensorAsync,
)

__all__ = [
    "BaseSensorOperator", "DateTimeSensor", "DateTimeSensorAsync", "ExternalTaskSensor",
    "FileSensor", "HttpSensor", "PokeReturnValue", "PythonSensor", "SqlSensor",
    "TimeDeltaSensor", "TimeDeltaSensorAsync", "apply_defaults",
]
