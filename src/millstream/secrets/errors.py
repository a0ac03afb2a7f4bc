"""The errors of connections, variables and their encryption, each naming what is wrong."""

from __future__ import annotations

from millstream.exceptions import MillstreamError


class SecretsError(MillstreamError):
    """Base class of the errors of connections, variables and secrets."""


class FernetKeyError(SecretsError):
    """No Fernet key is configured, or the configured one cannot decrypt a stored secret."""


class SecretsFileError(SecretsError, ValueError):
    """The secrets file named in the settings cannot be read or has a bad entry."""


class _NotFound(SecretsError, KeyError):
    """A KeyError whose text is its message (KeyError alone would show it quoted)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class VariableNotFound(_NotFound):
    """No variable with this key exists in any of the places looked in."""

    def __init__(self, key: str, message: str | None = None) -> None:
        super().__init__(message or f"variable {key!r} does not exist")
        self.key = key


class ConnectionNotFound(_NotFound):
    """No connection with this id exists in any of the places looked in."""

    def __init__(self, conn_id: str, message: str | None = None) -> None:
        super().__init__(message or f"connection {conn_id!r} is not defined")
        self.conn_id = conn_id
