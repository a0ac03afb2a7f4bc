"""HttpHook: HTTP requests to a connection's base URL via httpx, with status checks and retries."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from millstream.hooks.base import BaseHook, HookError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("millstream.hooks")

# keys of a connection's extra (and of extra_options) that configure the request, not headers
_CLIENT_OPTIONS = frozenset({"verify", "cert", "proxy", "trust_env"})
_REQUEST_OPTIONS = frozenset({"timeout", "follow_redirects", "allow_redirects", "check_response"})
_RETRY_KEYS = ("attempts", "stop_after_attempt", "wait", "backoff", "max_wait",
               "retry_on_status", "retry_on")
DEFAULT_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class HttpError(HookError):
    """The server answered with a 4xx or 5xx status."""

    def __init__(self, message: str, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response
        self.status_code = response.status_code


class HttpHook(BaseHook):
    """HTTP calls to the host of a connection: ``HttpHook("GET", http_conn_id="api")``.

    The base URL is the connection's ``host`` (which may include ``https://``), else
    ``<schema or http>://host[:port]``; its login and password give basic auth (or
    ``auth_type(login, password)``). Keys of its extra are headers, except the request
    options ``timeout``, ``verify``, ``cert``, ``proxy``, ``trust_env``,
    ``follow_redirects`` and ``check_response``; a ``headers`` key may hold a dict of them.
    ``http_conn_id=None`` means no connection: endpoints are full URLs.
    """

    conn_name_attr = "http_conn_id"
    default_conn_name = "http_default"
    conn_type = "http"
    hook_name = "HTTP"

    def __init__(
        self,
        method: str = "POST",
        http_conn_id: str | None = "http_default",
        auth_type: Callable[[str, str], Any] | None = None,
    ) -> None:
        self.method = method.upper()
        self.http_conn_id = http_conn_id
        self.auth_type = auth_type
        self.base_url = ""

    def _connection_options(self) -> tuple[str, dict[str, str], dict[str, Any], Any]:
        """Base URL, headers, options and auth from the connection (nothing without one)."""
        if not self.http_conn_id:
            return "", {}, {}, None
        conn = self.connection
        host = conn.host or ""
        if host and "://" not in host:
            host = f"{conn.schema or 'http'}://{host}"
        if host and conn.port:
            host = f"{host.rstrip('/')}:{conn.port}"
        headers: dict[str, str] = {}
        options: dict[str, Any] = {}
        for key, value in (conn.extra_dejson or {}).items():
            if key == "headers" and isinstance(value, Mapping):
                headers.update({str(k): str(v) for k, v in value.items()})
            elif key in _CLIENT_OPTIONS or key in _REQUEST_OPTIONS:
                options[key] = value
            else:
                headers[str(key)] = str(value)
        auth = None
        if conn.login:
            if self.auth_type is not None:
                auth = self.auth_type(conn.login, conn.password or "")
            else:
                import httpx

                auth = httpx.BasicAuth(conn.login, conn.password or "")
        return host, headers, options, auth

    def get_conn(self, headers: Mapping[str, str] | None = None,
                 extra_options: Mapping[str, Any] | None = None) -> httpx.Client:
        """An httpx client with the connection's base URL, headers, auth and options."""
        base_url, conn_headers, options, auth = self._connection_options()
        options.update(extra_options or {})
        return self._client(base_url, {**conn_headers, **(headers or {})}, options, auth)

    def _client(self, base_url: str, headers: dict[str, str], options: dict[str, Any],
                auth: Any) -> httpx.Client:
        import httpx

        self.base_url = base_url
        client_options = {k: _flag(v) for k, v in options.items() if k in _CLIENT_OPTIONS}
        timeout = options.get("timeout", 30.0)
        return httpx.Client(headers=headers, auth=auth,
                            timeout=None if timeout is None else float(timeout), **client_options)

    def url_from_endpoint(self, endpoint: str | None) -> str:
        """The base URL joined with ``endpoint`` by exactly one slash."""
        endpoint = endpoint or ""
        if "://" in endpoint or not self.base_url:
            return endpoint
        if not endpoint:
            return self.base_url
        return f"{self.base_url.rstrip('/')}/{endpoint.lstrip('/')}"

    def run(
        self,
        endpoint: str | None = None,
        data: Mapping[str, Any] | str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        **request_kwargs: Any,
    ) -> httpx.Response:
        """Send one request; raise :class:`HttpError` on a 4xx/5xx answer unless
        ``extra_options={"check_response": False}``.

        ``data`` is the query string for GET and HEAD, else the body (a dict is sent
        form-encoded, a string or bytes as they are); ``json=``, ``params=``, ``files=``
        and the like go to httpx as they are.
        """
        options = dict(extra_options or {})
        unknown = set(options) - _CLIENT_OPTIONS - _REQUEST_OPTIONS
        if unknown:
            raise ValueError(
                f"HttpHook.run: unknown extra_options {sorted(unknown)}; known: "
                f"{sorted(_CLIENT_OPTIONS | _REQUEST_OPTIONS)}"
            )
        base_url, conn_headers, merged, auth = self._connection_options()
        merged.update(options)
        with self._client(base_url, {**conn_headers, **(headers or {})}, merged, auth) as client:
            check = bool(_flag(merged.get("check_response", True)))
            follow = bool(_flag(merged.get("follow_redirects",
                                           merged.get("allow_redirects", True))))
            url = self.url_from_endpoint(endpoint)
            if self.method in ("GET", "HEAD") and data is not None:
                request_kwargs.setdefault("params", data)
            elif isinstance(data, str | bytes):
                request_kwargs["content"] = data
            elif data is not None:
                request_kwargs["data"] = data
            log.info("Sending %s to %s", self.method, url)
            try:
                response = client.request(self.method, url, follow_redirects=follow,
                                          **request_kwargs)
            except Exception as exc:
                exc.add_note(f"HTTP {self.method} {url} (connection {self.http_conn_id!r})")
                raise
        if check:
            self.check_response(response)
        return response

    def check_response(self, response: httpx.Response) -> None:
        """Raise :class:`HttpError` (status, URL and the start of the body) for 4xx/5xx."""
        if not response.is_error:
            return
        body = response.text[:500]
        log.error("HTTP %s from %s %s: %s", response.status_code, response.request.method,
                  response.request.url, body)
        raise HttpError(
            f"HTTP {response.status_code} {response.reason_phrase} from "
            f"{response.request.method} {response.request.url}: {body}",
            response,
        )

    def run_with_advanced_retry(self, _retry_args: Mapping[str, Any], *args: Any,
                                **kwargs: Any) -> httpx.Response:
        """:meth:`run`, retried on connection errors and on retryable statuses.

        ``_retry_args``: ``attempts`` (or ``stop_after_attempt``, default 3), ``wait``
        (seconds before the first retry, default 1), ``backoff`` (factor per retry,
        default 2), ``max_wait`` (default 60), ``retry_on_status`` (default 429, 500,
        502, 503, 504) and ``retry_on`` (exception classes, default httpx.TransportError).
        The last error is raised once the attempts are used up.
        """
        import httpx

        unknown = set(_retry_args) - set(_RETRY_KEYS)
        if unknown:
            raise ValueError(f"run_with_advanced_retry: unknown _retry_args {sorted(unknown)}; "
                             f"known: {', '.join(_RETRY_KEYS)}")
        attempts = int(_retry_args.get("attempts", _retry_args.get("stop_after_attempt", 3)))
        if attempts < 1:
            raise ValueError(f"run_with_advanced_retry: attempts must be >= 1, got {attempts}")
        wait = float(_retry_args.get("wait", 1.0))
        backoff = float(_retry_args.get("backoff", 2.0))
        max_wait = float(_retry_args.get("max_wait", 60.0))
        statuses: Collection[int] = _retry_args.get("retry_on_status", DEFAULT_RETRY_STATUS)
        retry_on = _retry_args.get("retry_on", (httpx.TransportError,))
        retry_on = tuple(retry_on) if isinstance(retry_on, list | tuple) else (retry_on,)
        for attempt in range(1, attempts + 1):
            try:
                return self.run(*args, **kwargs)
            except HttpError as exc:
                if exc.status_code not in statuses or attempt == attempts:
                    raise
                reason = f"HTTP {exc.status_code}"
            except retry_on as exc:
                if attempt == attempts:
                    raise
                reason = f"{type(exc).__name__}: {exc}"
            delay = min(wait * backoff ** (attempt - 1), max_wait)
            log.warning("Attempt %d of %d failed (%s); retrying in %.2fs",
                        attempt, attempts, reason, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises


def _flag(value: Any) -> Any:
    """``"true"``/``"false"`` from a URI's query string as booleans; anything else as is."""
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    return value


__all__ = ["DEFAULT_RETRY_STATUS", "HttpError", "HttpHook"]
