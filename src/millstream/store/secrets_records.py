"""Plain records of variables and connections as the store keeps them (secrets as ciphertext).

The store never encrypts or decrypts: :mod:`millstream.secrets` hands it the encrypted text
and says so with the ``is_encrypted`` flags; the store keeps both as they are.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VariableRecord:
    """One variable; ``value`` is Fernet ciphertext when ``is_encrypted``."""

    key: str
    value: str
    description: str | None = None
    is_encrypted: bool = False


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    """One connection; ``password`` and ``extra`` are ciphertext when their flags say so."""

    conn_id: str
    conn_type: str
    description: str | None = None
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    port: int | None = None
    extra: str | None = None
    is_encrypted: bool = False
    is_extra_encrypted: bool = False
