"""Variables and connections in the metadata store: validated, encrypted, audited actions.

The CLI, the REST API and the UI call these functions; each write is one transaction that
validates its input (errors name the field), encrypts what is secret with the Fernet key
from the settings, and adds an audit record naming who did it. The store only ever sees
ciphertext. :func:`get_connection` and :func:`get_variable_value` are the lookups code in
tasks uses: environment first, then the secrets file, then the database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from millstream.exceptions import ConflictError, InvalidInputError
from millstream.model.limits import limits_in_force
from millstream.secrets import backends, crypto
from millstream.secrets.connection import Connection, check_id
from millstream.secrets.errors import ConnectionNotFound, SecretsError
from millstream.secrets.masking import (
    MASK,
    SecretsMasker,
    is_sensitive_name,
    mask_secret,
    redact,
)
from millstream.store.audit import audit
from millstream.store.secrets_records import ConnectionRecord, VariableRecord

if TYPE_CHECKING:
    from millstream.store.interfaces import Store

log = logging.getLogger("millstream.secrets")


@dataclass(frozen=True, slots=True)
class VariableView:
    """A variable as listings show it: the value is ``***`` when the key names a secret."""

    key: str
    value: str
    description: str | None
    is_encrypted: bool


@dataclass(frozen=True, slots=True)
class ConnectionView:
    """A connection as listings show it: no password (only whether one is set), and the
    secret fields of its extra as ``***``."""

    conn_id: str
    conn_type: str
    description: str | None
    host: str | None
    schema: str | None
    login: str | None
    port: int | None
    extra: str | None
    password_set: bool
    is_encrypted: bool
    is_extra_encrypted: bool


# -- variables ----------------------------------------------------------------------------------
def check_variable(key: str, value: object, description: object = None) -> None:
    """Raise an InvalidInputError naming what is wrong with a variable to be stored."""
    check_id(key, "variable key")
    if not isinstance(value, str):
        raise InvalidInputError(
            f"variable {key!r}: the value must be text, got {type(value).__name__}")
    if description is not None and not isinstance(description, str):
        raise InvalidInputError(f"variable {key!r}: the description must be text")
    most = limits_in_force().max_value_bytes
    if len(value.encode()) > most:
        raise InvalidInputError(f"variable {key!r}: the value is {len(value.encode())} bytes; "
                                f"at most {most} are allowed ([limits] max_value_bytes)")


def _variable_record(store: Store, key: str, value: str,
                     description: str | None) -> VariableRecord:
    if description is None:
        current = store.variables.get(key)
        description = current.description if current is not None else None
    return VariableRecord(key, crypto.encrypt(value, f"the value of variable {key!r}"),
                          description, is_encrypted=True)


def set_variable(store: Store, key: str, value: str, who: str, now: datetime,
                 description: str | None = None) -> None:
    """Create or replace a variable; a description of None keeps the current one."""
    check_variable(key, value, description)
    with store.transaction():
        store.variables.set(_variable_record(store, key, value, description))
        audit(store, "variable_set", who, now, key=key)


def import_variables(store: Store, values: Mapping[str, object], who: str,
                     now: datetime) -> list[str]:
    """Set many variables at once, all or none: a bad key or value changes nothing.

    Text values are stored as they are; any other JSON value is stored as its JSON text.
    Returns the keys, sorted.
    """
    texts: dict[str, str] = {}
    for key, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value)
        check_variable(key, text)
        texts[key] = text
    records = []
    with store.transaction():
        for key in sorted(texts):  # encrypt every value before the first write
            records.append(_variable_record(store, key, texts[key], None))
        for record in records:
            store.variables.set(record)
        audit(store, "variables_import", who, now, keys=sorted(texts))
    return sorted(texts)


def get_variable(store: Store, key: str) -> str | None:
    """A variable's value from the store, decrypted; None when the store has none."""
    with store.transaction():
        record = store.variables.get(key)
    if record is None:
        return None
    return _plain_value(record)


def _plain_value(record: VariableRecord) -> str:
    if not record.is_encrypted:
        return record.value
    return crypto.decrypt(record.value, f"the value of variable {record.key!r}")


def list_variables(store: Store, limit: int, offset: int) -> tuple[list[VariableView], int]:
    """A page of variables by key (values of secret keys as ``***``) and how many there are."""
    with store.transaction():
        records = store.variables.list(limit, offset)
        total = store.variables.count()
    views = [
        VariableView(r.key, MASK if is_sensitive_name(r.key) else _plain_value(r),
                     r.description, r.is_encrypted)
        for r in records
    ]
    return views, total


def stored_secrets_masker(store: Store) -> SecretsMasker:
    """A masker that knows every secret the store holds: each connection's password and
    the secret fields of its extra, and each variable whose key names a secret.

    What the web server shows that a task produced (XComs, rendered fields) goes through
    it, so a secret a task returned or pushed shows as ``***`` whoever looks. A record
    that cannot be decrypted (a Fernet key missing here) is skipped with a warning."""
    masker = SecretsMasker()
    with store.transaction():
        connections = store.connections.list()
        variables = [r for r in store.variables.list() if is_sensitive_name(r.key)]
    for connection in connections:
        try:
            conn = _connection(connection)
            masker.add(conn.password)
            masker.add(conn.extra_dejson if conn.extra else None)
        except (SecretsError, ValueError) as exc:
            log.warning("cannot mask the secrets of connection %r: %s", connection.conn_id, exc)
    for variable in variables:
        try:
            masker.add(_plain_value(variable))
        except SecretsError as exc:
            log.warning("cannot mask the value of variable %r: %s", variable.key, exc)
    return masker


def export_variables(store: Store) -> dict[str, str]:
    """Every variable in the store, decrypted, by key (for ``millstream variables export``)."""
    with store.transaction():
        records = store.variables.list()
    return {record.key: _plain_value(record) for record in records}


def delete_variable(store: Store, key: str, who: str, now: datetime) -> bool:
    """Remove a variable; False (and no audit record) when there was none."""
    with store.transaction():
        if not store.variables.delete(key):
            return False
        audit(store, "variable_delete", who, now, key=key)
    return True


def get_variable_value(key: str) -> str | None:
    """The variable from ``MILLSTREAM_VAR_<KEY>``, the secrets file or the store, or None."""
    value = backends.variable_from_env(key)
    if value is None:
        secrets_file = backends.configured_secrets_file()
        if secrets_file is not None:
            value = secrets_file.variables.get(key)
    if value is None:
        from millstream.store.current import current_store

        value = get_variable(current_store(), key)
    if value is not None and is_sensitive_name(key):
        mask_secret(value)
    return value


# -- connections --------------------------------------------------------------------------------
def set_connection(store: Store, conn: Connection, who: str, now: datetime,
                   must_not_exist: bool = False) -> None:
    """Create or replace a connection (``must_not_exist``: an existing one is a ConflictError)."""
    conn.validate()
    what = f"connection {conn.conn_id!r}"
    password = None
    if conn.password is not None:
        password = crypto.encrypt(conn.password, f"the password of {what}")
    extra = crypto.encrypt(conn.extra, f"the extra of {what}") if conn.extra else None
    record = ConnectionRecord(
        conn.conn_id, str(conn.conn_type), conn.description, conn.host, conn.schema,
        conn.login, password, conn.port, extra, is_encrypted=password is not None,
        is_extra_encrypted=extra is not None,
    )
    with store.transaction():
        if must_not_exist and store.connections.get(conn.conn_id) is not None:
            raise ConflictError(f"{what} already exists")
        store.connections.set(record)
        audit(store, "connection_set", who, now, conn_id=conn.conn_id,
              conn_type=conn.conn_type)


def get_connection_record(store: Store, conn_id: str) -> Connection | None:
    """The connection the store holds, decrypted; None when it has none."""
    with store.transaction():
        record = store.connections.get(conn_id)
    return None if record is None else _connection(record)


def _connection(record: ConnectionRecord, decrypt_password: bool = True) -> Connection:
    what = f"connection {record.conn_id!r}"
    password = record.password
    if password is not None and record.is_encrypted and decrypt_password:
        password = crypto.decrypt(password, f"the password of {what}")
    extra = record.extra
    if extra is not None and record.is_extra_encrypted:
        extra = crypto.decrypt(extra, f"the extra of {what}")
    return Connection(record.conn_id, record.conn_type, record.description, record.host,
                      record.login, password, record.schema, record.port, extra)


def connection_view(conn: Connection, is_encrypted: bool = False,
                    is_extra_encrypted: bool = False) -> ConnectionView:
    """How listings show ``conn``: no password, the extra's secret fields as ``***``."""
    extra = None
    if conn.extra:
        try:
            extra = json.dumps(redact(conn.extra_dejson))
        except ValueError:
            extra = MASK  # not JSON: nothing in it can be told apart from a secret
    return ConnectionView(
        conn.conn_id, str(conn.conn_type), conn.description, conn.host, conn.schema,
        conn.login, conn.port, extra, conn.password is not None, is_encrypted,
        is_extra_encrypted,
    )


def list_connections(store: Store, limit: int, offset: int
                     ) -> tuple[list[ConnectionView], int]:
    """A page of connections by id, without passwords, and how many there are."""
    # The password is not shown, so it is not decrypted either: only the extra is.
    with store.transaction():
        records = store.connections.list(limit, offset)
        total = store.connections.count()
    views = [connection_view(_connection(record, decrypt_password=False), record.is_encrypted,
                             record.is_extra_encrypted)
             for record in records]
    return views, total


def delete_connection(store: Store, conn_id: str, who: str, now: datetime) -> bool:
    """Remove a connection; False (and no audit record) when there was none."""
    with store.transaction():
        if not store.connections.delete(conn_id):
            return False
        audit(store, "connection_delete", who, now, conn_id=conn_id)
    return True


def get_connection(conn_id: str) -> Connection:
    """The connection from ``MILLSTREAM_CONN_<ID>``, the secrets file or the store.

    Its password and the secret fields of its extra are masked in this process's task
    log from now on. Raises :class:`ConnectionNotFound` naming the id and the places
    looked in.
    """
    conn = backends.connection_from_env(conn_id)
    if conn is None:
        secrets_file = backends.configured_secrets_file()
        if secrets_file is not None:
            conn = secrets_file.connection(conn_id)
    if conn is None:
        from millstream.store.current import current_store

        conn = get_connection_record(current_store(), conn_id)
    if conn is None:
        places = backends.looked_in(backends.conn_env_var_name(conn_id))
        raise ConnectionNotFound(conn_id, f"connection {conn_id!r} is not defined (looked in "
                                          f"{places})")
    if conn.password:
        mask_secret(conn.password)
    if conn.extra:
        mask_secret(conn.extra_dejson)
    return conn
