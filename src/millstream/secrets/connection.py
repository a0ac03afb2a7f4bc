"""The Connection: where and how to reach an external system, and its URI and JSON forms.

The URI form follows Airflow's: ``conn-type://login:password@host:port/schema?extra``.
Every part is percent-encoded, so any character may appear in a login, password, host
or schema; a host that carries a protocol of its own is written after the scheme
(``http://https://example.com`` is type ``http``, host ``https://example.com``). The
query holds the extra: each parameter becomes a key of the extra (all values text), or,
when the extra has values that are not text, one ``__extra__`` parameter holds its JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import InitVar, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from millstream.exceptions import InvalidInputError
from millstream.model.identifiers import Identifier, check_identifier
from millstream.secrets.masking import MASK, redact

if TYPE_CHECKING:
    from collections.abc import Mapping

TYPE_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.+-]{0,99}$")
EXTRA_KEY = "__extra__"
MAX_FIELD_LENGTH = 500  # host, schema and conn_type columns
JSON_FIELDS = ("conn_type", "description", "host", "login", "password", "schema", "port",
               "extra")


def check_id(value: object, what: str) -> str:
    """``value`` if it is a valid connection id or variable key, else an error naming it."""
    kind = Identifier.VARIABLE if "variable" in what else Identifier.CONNECTION
    return check_identifier(value, kind)


def normalize_conn_type(scheme: str) -> str:
    """A URI scheme as a connection type: lower case, ``-`` as ``_``, postgresql as postgres."""
    conn_type = scheme.lower().replace("-", "_")
    return "postgres" if conn_type == "postgresql" else conn_type


@dataclass(eq=True)
class Connection:
    """One external system's address and credentials, known by its ``conn_id``.

    ``extra`` is JSON text (a dict is accepted and turned into JSON); ``uri`` fills every
    field from the URI form instead. :meth:`validate` checks the fields, naming the wrong
    one; the store, the CLI and the API only ever keep validated connections.
    """

    conn_id: str
    conn_type: str | None = None
    description: str | None = None
    host: str | None = None
    login: str | None = None
    password: str | None = None
    schema: str | None = None
    port: int | None = None
    extra: str | None = None
    uri: InitVar[str | None] = None

    def __post_init__(self, uri: str | None) -> None:
        if isinstance(self.extra, dict):
            self.extra = json.dumps(self.extra)
        if uri is None:
            return
        given = [name for name in ("conn_type", "host", "login", "password", "schema", "port",
                                   "extra") if getattr(self, name) is not None]
        if given:
            raise InvalidInputError(
                f"connection {self.conn_id!r}: give either a URI or the fields "
                f"({', '.join(given)}), not both"
            )
        parsed = Connection.from_uri(self.conn_id, uri)
        for name in ("conn_type", "host", "login", "password", "schema", "port", "extra"):
            setattr(self, name, getattr(parsed, name))

    # -- the URI form -------------------------------------------------------------------------
    @classmethod
    def from_uri(cls, conn_id: str, uri: str, description: str | None = None) -> Connection:
        """A connection from its URI; a malformed URI is an InvalidInputError naming the part."""
        what = f"connection {conn_id!r}"
        if not isinstance(uri, str) or "://" not in uri:
            # Not shown: text that is not a URI may be anything, a bare password included.
            raise InvalidInputError(
                f"{what}: a connection URI looks like "
                "postgres://login:password@host:5432/schema; the value given has no '://'"
            )
        if uri.count("://") > 2:
            raise InvalidInputError(f"{what}: the URI {_shown(uri)} has more than two '://'")
        scheme, rest = uri.split("://", 1)
        if not TYPE_PATTERN.match(scheme):
            raise InvalidInputError(f"{what}: the URI's scheme {scheme!r} is not a connection type")
        protocol = None
        if "://" in rest:
            protocol, rest = rest.split("://", 1)
            if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", protocol):
                raise InvalidInputError(
                    f"{what}: {_shown(uri)} has a host protocol {protocol!r} that is not a "
                    "URI scheme"
                )
        rest = rest.split("#", 1)[0]
        location, _, query = rest.partition("?")
        netloc, _, path = location.partition("/")
        userinfo, at, hostport = netloc.rpartition("@")
        login = password = None
        if at:
            login_text, colon, password_text = userinfo.partition(":")
            login = unquote(login_text) or None
            password = unquote(password_text) if colon else None
        host_text, port_text = _split_port(hostport, what)
        host = unquote(host_text) or None
        if protocol:
            host = f"{protocol}://{host or ''}"
        port = None
        if port_text:
            if not port_text.isdigit():
                raise InvalidInputError(
                    f"{what}: the port {port_text!r} in the URI is not a number")
            port = int(port_text)
        extra = None
        if query:
            pairs = dict(parse_qsl(query, keep_blank_values=True))
            extra = pairs[EXTRA_KEY] if EXTRA_KEY in pairs else json.dumps(pairs)
        connection = cls(conn_id, normalize_conn_type(scheme), description, host, login,
                         password, unquote(path) or None, port, extra)
        connection.validate()
        return connection

    def get_uri(self, masked: bool = False) -> str:
        """The connection as a URI that :meth:`from_uri` turns back into the same fields.

        ``masked`` writes ``***`` in place of the password and of the extra's secret fields
        (for showing the URI, not for using it).
        """
        uri = f"{(self.conn_type or '').lower().replace('_', '-')}://"
        host = self.host
        if host and "://" in host:
            protocol, host = host.split("://", 1)
            uri += f"{protocol}://"
        authority = quote(self.login, safe="") if self.login is not None else ""
        if self.password is not None:
            authority += ":" + (MASK if masked else quote(self.password, safe=""))
        if authority:
            uri += authority + "@"
        if host:
            uri += quote(host, safe="")
        if self.port is not None:
            uri += f"{'' if host or authority else '@'}:{self.port}"
        if self.schema:
            uri += "/" + quote(self.schema, safe="")
        if self.extra:
            uri += ("?" if self.schema else "/?") + self._extra_query(masked)
        return uri

    def _extra_query(self, masked: bool) -> str:
        extra = self.extra_dejson
        text = self.extra or ""
        if masked:
            extra = redact(extra)
            text = json.dumps(extra)
        safe = "*" if masked else ""
        if all(isinstance(v, str) for v in extra.values()):
            query = urlencode(extra, safe=safe)
            if masked or dict(parse_qsl(query, keep_blank_values=True)) == extra:
                return query
        return urlencode({EXTRA_KEY: text}, safe=safe)

    # -- the JSON form ------------------------------------------------------------------------
    @classmethod
    def from_json(cls, conn_id: str, text: str | Mapping[str, Any]) -> Connection:
        """A connection from a JSON object of its fields (``extra`` may be an object)."""
        what = f"connection {conn_id!r}"
        if isinstance(text, str):
            try:
                fields = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(
                    f"{what}: not valid JSON: {exc.msg} (at {exc.pos})") from None
        else:
            fields = dict(text)
        if not isinstance(fields, dict):
            raise InvalidInputError(f"{what}: the JSON form must be an object of fields")
        unknown = sorted(set(fields) - set(JSON_FIELDS))
        if unknown:
            raise InvalidInputError(
                f"{what}: unknown field(s) {', '.join(map(repr, unknown))}; the fields are "
                f"{', '.join(JSON_FIELDS)}"
            )
        port = fields.get("port")
        if isinstance(port, str) and port.isdigit():
            port = int(port)
        extra = fields.get("extra")
        if extra is not None and not isinstance(extra, str):
            extra = json.dumps(extra)
        connection = cls(
            conn_id, fields.get("conn_type"), fields.get("description"), fields.get("host"),
            fields.get("login"), fields.get("password"), fields.get("schema"), port, extra,
        )
        connection.validate()
        return connection

    def to_dict(self, masked: bool = False) -> dict[str, Any]:
        """The fields that are set, JSON-ready (the extra as an object), without conn_id.

        ``masked`` shows the password and the extra's secret fields as ``***``.
        """
        values: dict[str, Any] = {
            "conn_type": self.conn_type, "description": self.description, "host": self.host,
            "login": self.login, "password": self.password, "schema": self.schema,
            "port": self.port, "extra": self.extra_dejson if self.extra else None,
        }
        if masked:
            values["password"] = MASK if self.password is not None else None
            values["extra"] = redact(values["extra"])
        return {name: value for name, value in values.items() if value is not None}

    # -- fields -------------------------------------------------------------------------------
    @property
    def extra_dejson(self) -> dict[str, Any]:
        """The extra as a dict (empty when there is none)."""
        if not self.extra:
            return {}
        value = _parse_extra(self.extra, f"connection {self.conn_id!r}")
        return value

    def get_password(self) -> str | None:
        return self.password

    def get_extra(self) -> str | None:
        return self.extra

    def validate(self) -> None:
        """Raise an InvalidInputError naming the first wrong field (id, type, port, extra)."""
        check_id(self.conn_id, "connection id")
        what = f"connection {self.conn_id!r}"
        if not self.conn_type:
            raise InvalidInputError(f"{what}: conn_type is required (for example postgres, sqlite, "
                             "http)")
        if not isinstance(self.conn_type, str) or not TYPE_PATTERN.match(self.conn_type):
            raise InvalidInputError(
                f"{what}: conn_type {self.conn_type!r} is not valid: start with a letter, then "
                "letters, digits, '_', '-', '+' or '.'"
            )
        for name in ("description", "host", "login", "password", "schema", "extra"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InvalidInputError(f"{what}: {name} must be text, got {type(value).__name__}")
        for name in ("host", "schema"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_FIELD_LENGTH:
                raise InvalidInputError(
                    f"{what}: {name} is longer than {MAX_FIELD_LENGTH} characters"
                )
        if self.port is not None and (
            isinstance(self.port, bool) or not isinstance(self.port, int)
            or not 1 <= self.port <= 65535
        ):
            raise InvalidInputError(
                f"{what}: port must be a number from 1 to 65535, got {self.port!r}")
        if self.extra is not None:
            _parse_extra(self.extra, what)

    # -- lookups ------------------------------------------------------------------------------
    @classmethod
    def get_connection_from_secrets(cls, conn_id: str) -> Connection:
        """The connection from the environment, the secrets file or the metadata database."""
        from millstream.secrets.service import get_connection

        return get_connection(conn_id)

    def test_connection(self) -> tuple[bool, str]:
        """Try to reach the system: (True, message) on success, (False, why) otherwise."""
        if not _connection_tester:
            raise RuntimeError("no connection tester is registered; import millstream first")
        return _connection_tester[0](self)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={MASK}" if name == "password" and value is not None else f"{name}={value!r}"
            for name, value in (("conn_id", self.conn_id), ("conn_type", self.conn_type),
                                ("host", self.host), ("login", self.login),
                                ("password", self.password), ("schema", self.schema),
                                ("port", self.port))
        )
        return f"Connection({shown})"


def _split_port(hostport: str, what: str) -> tuple[str, str]:
    """(host, port text) of ``host:port``; an IPv6 literal keeps its brackets."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise InvalidInputError(f"{what}: the IPv6 host in the URI has no closing ']'")
        after = hostport[end + 1:]
        if after and not after.startswith(":"):
            raise InvalidInputError(f"{what}: unexpected {after!r} after the IPv6 host in the URI")
        return hostport[:end + 1], after[1:]
    host, colon, port = hostport.rpartition(":")
    return (host, port) if colon else (hostport, "")


def _parse_extra(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise InvalidInputError(f"{what}: extra is not valid JSON: {detail}") from None
    if not isinstance(value, dict):
        raise InvalidInputError(
            f"{what}: extra must be a JSON object like '{{\"key\": \"value\"}}', "
            f"got {type(value).__name__}"
        )
    return value


def _shown(uri: object) -> str:
    """A URI for an error message, with anything that could be a password hidden."""
    if not isinstance(uri, str):
        return repr(uri)
    return repr(re.sub(r"(://[^/?#@]*?:)[^/?#@]*@", rf"\g<1>{MASK}@", uri))


ConnectionTester = Callable[[Connection], tuple[bool, str]]
"""Tries to reach a connection's system through its hook: (ok, message)."""

_connection_tester: list[ConnectionTester] = []


def register_connection_tester(tester: ConnectionTester) -> None:
    """Make ``tester`` the one :meth:`Connection.test_connection` calls.

    Testing goes through the connection's hook, and the hooks sit above the secrets they
    look up; ``millstream/__init__`` registers ``millstream.hooks.connection_tester``.
    """
    _connection_tester[:] = [tester]
