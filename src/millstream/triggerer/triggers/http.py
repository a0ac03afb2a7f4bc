"""HttpTrigger: request an HTTP endpoint every so often until it answers (HttpSensor's wait)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from millstream.triggerer.base import BaseTrigger, TriggerEvent
from millstream.triggerer.clock import current_clock

log = logging.getLogger("millstream.triggerer")

_CLIENT_OPTIONS = ("verify", "cert", "proxy", "trust_env")
_TRUE = ("true", "1", "yes")


def _flag(value: Any) -> Any:
    """A boolean from a connection URI's query text ("false"); other values as they are."""
    if isinstance(value, str) and value.lower() in (*_TRUE, "false", "0", "no"):
        return value.lower() in _TRUE
    return value


class HttpTrigger(BaseTrigger):
    """Sends ``method endpoint`` every ``poke_interval`` seconds until the answer is not an
    error status, then fires with ``{"status": "success", "status_code": ..., "url": ...}``.

    An error status in ``response_error_codes_allowlist`` (default 404) means "not yet";
    any other error status, or a failed connection, fires
    ``{"status": "error", "message": ...}`` naming the URL. ``data`` and
    ``request_kwargs`` (``json=``, ``params=``...) shape the request as in
    ``HttpHook.run``. The connection (``http_conn_id``: base URL, headers, credentials)
    is looked up where the trigger runs, so no credential is stored with it.
    ``first_wait`` delays the first request.
    """

    def __init__(
        self,
        endpoint: str,
        http_conn_id: str | None = "http_default",
        method: str = "GET",
        data: Mapping[str, Any] | str | None = None,
        headers: Mapping[str, str] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        request_kwargs: Mapping[str, Any] | None = None,
        response_error_codes_allowlist: Sequence[str | int] = ("404",),
        poke_interval: float = 5.0,
        first_wait: float = 0.0,
    ) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.http_conn_id = http_conn_id
        self.method = method.upper()
        self.data = data
        self.headers = dict(headers or {})
        self.extra_options = dict(extra_options or {})
        self.request_kwargs = dict(request_kwargs or {})
        self.response_error_codes_allowlist = [str(c) for c in response_error_codes_allowlist]
        self.poke_interval = float(poke_interval)
        self.first_wait = float(first_wait)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("millstream.triggerer.triggers.http.HttpTrigger", {
            "endpoint": self.endpoint,
            "http_conn_id": self.http_conn_id,
            "method": self.method,
            "data": self.data,
            "headers": self.headers,
            "extra_options": self.extra_options,
            "request_kwargs": self.request_kwargs,
            "response_error_codes_allowlist": self.response_error_codes_allowlist,
            "poke_interval": self.poke_interval,
            "first_wait": self.first_wait,
        })

    def _request_kwargs(self) -> dict[str, Any]:
        """``data`` placed as HttpHook.run places it, plus ``request_kwargs`` (``json=``...)."""
        kwargs = dict(self.request_kwargs)
        if self.data is None:
            return kwargs
        if self.method in ("GET", "HEAD"):
            kwargs.setdefault("params", self.data)
        elif isinstance(self.data, str):
            kwargs["content"] = self.data
        else:
            kwargs["data"] = self.data
        return kwargs

    async def run(self) -> AsyncIterator[TriggerEvent]:
        import httpx

        from millstream.hooks.http import HttpHook

        clock = current_clock()
        if self.first_wait > 0:
            await clock.sleep_until(clock.now() + timedelta(seconds=self.first_wait))
        hook = HttpHook(self.method, self.http_conn_id)
        base_url, conn_headers, options, auth = hook._connection_options()
        options.update(self.extra_options)
        hook.base_url = base_url
        url = hook.url_from_endpoint(self.endpoint)
        check = bool(_flag(options.get("check_response", True)))
        follow = bool(_flag(options.get("follow_redirects", options.get("allow_redirects", True))))
        timeout = options.get("timeout", 30.0)
        client = httpx.AsyncClient(
            headers={**conn_headers, **self.headers}, auth=auth,
            timeout=None if timeout is None else float(timeout),
            **{k: _flag(options[k]) for k in _CLIENT_OPTIONS if k in options},
        )
        async with client:
            while True:
                try:
                    response = await client.request(self.method, url, follow_redirects=follow,
                                                    **self._request_kwargs())
                except httpx.HTTPError as exc:
                    yield TriggerEvent({"status": "error", "message":
                                        f"HTTP {self.method} {url} failed: "
                                        f"{type(exc).__name__}: {exc}"})
                    return
                code = response.status_code
                if not (check and response.is_error):
                    yield TriggerEvent({"status": "success", "status_code": code, "url": url})
                    return
                if str(code) not in self.response_error_codes_allowlist:
                    yield TriggerEvent({"status": "error", "message":
                                        f"HTTP {code} {response.reason_phrase} from "
                                        f"{self.method} {url}: {response.text[:500]}"})
                    return
                log.info("HTTP %s from %s %s; asking again in %g s", code, self.method, url,
                         self.poke_interval)
                await clock.sleep_until(clock.now() + timedelta(seconds=self.poke_interval))
