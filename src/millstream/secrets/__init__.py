"""Connections, variables and secrets: lookups, encryption at rest, and masking as ***.

``from millstream.secrets import Variable, Connection, get_connection`` is what task code
uses; the CLI, API and UI use :mod:`millstream.secrets.service`. Names are imported on
first use, so that a task context that never reads a secret pays nothing for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from millstream.secrets.connection import Connection
    from millstream.secrets.errors import (
        ConnectionNotFound,
        FernetKeyError,
        SecretsError,
        SecretsFileError,
        VariableNotFound,
    )
    from millstream.secrets.masking import mask_secret, redact
    from millstream.secrets.service import get_connection, get_variable_value
    from millstream.secrets.variable import Variable

_WHERE = {
    "Connection": "connection",
    "ConnectionNotFound": "errors",
    "FernetKeyError": "errors",
    "SecretsError": "errors",
    "SecretsFileError": "errors",
    "Variable": "variable",
    "VariableNotFound": "errors",
    "get_connection": "service",
    "get_variable_value": "service",
    "mask_secret": "masking",
    "redact": "masking",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'millstream.secrets' has no attribute {name!r}")
    return getattr(importlib.import_module(f"millstream.secrets.{module}"), name)


__all__ = [
    "Connection",
    "ConnectionNotFound",
    "FernetKeyError",
    "SecretsError",
    "SecretsFileError",
    "Variable",
    "VariableNotFound",
    "get_connection",
    "get_variable_value",
    "mask_secret",
    "redact",
]
