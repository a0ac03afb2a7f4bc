"""HttpSensor: wait until an HTTP endpoint answers (and, optionally, answers what you want)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, NoReturn

from millstream.exceptions import DagDefinitionError, TaskDeferralTimeout
from millstream.sensors.base import BaseSensorOperator
from millstream.triggerer.clock import current_clock
from millstream.triggerer.triggers.http import HttpTrigger

log = logging.getLogger("millstream.task")


class HttpSensor(BaseSensorOperator):
    """Requests ``endpoint`` on the connection ``http_conn_id`` at each poke.

    A 2xx/3xx answer is done, unless ``response_check(response, **context keys it names)``
    says otherwise. An error status listed in ``response_error_codes_allowlist`` (default
    ``["404"]``) means "not yet"; any other error status, or a refused connection, fails
    the sensor, as in Airflow (add ``"503"`` to the list to wait out a service that is
    starting).

    :param endpoint: path under the connection's base URL, or a full URL (templated).
    :param http_conn_id: the HTTP connection (base URL, headers, credentials).
    :param method: the HTTP method (default ``GET``).
    :param request_params: the query string for GET/HEAD, else the body (templated).
    :param headers: extra request headers (templated).
    :param request_kwargs: further keyword arguments for the request (``json=``...).
    :param extra_options: request options: ``timeout``, ``verify``,
        ``follow_redirects``, ``check_response`` ...
    :param deferrable: wait in the triggerer (:class:`HttpTrigger`); a ``response_check``
        then runs in the worker each time the endpoint answers.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("endpoint", "request_params", "headers")
    ui_color: ClassVar[str] = "#e6f1f2"

    def __init__(
        self,
        *,
        endpoint: str,
        http_conn_id: str | None = "http_default",
        method: str = "GET",
        request_params: Mapping[str, Any] | str | None = None,
        request_kwargs: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        response_error_codes_allowlist: Sequence[str | int] | None = None,
        response_check: Callable[..., Any] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = (f"DAG {self.dag_id!r}, task {self.task_id!r}" if self.dag
                 else f"task {self.task_id!r}")
        if not isinstance(endpoint, str):
            raise DagDefinitionError(f"{where}: endpoint must be a string, got {endpoint!r}")
        if response_check is not None and not callable(response_check):
            raise DagDefinitionError(f"{where}: response_check must be callable")
        if not isinstance(method, str) or not method.isalpha():
            raise DagDefinitionError(f"{where}: method must be an HTTP method like 'GET', "
                                     f"got {method!r}")
        self.endpoint = endpoint
        self.http_conn_id = http_conn_id
        self.method = method.upper()
        self.request_params = request_params
        self.request_kwargs = dict(request_kwargs or {})
        self.headers = dict(headers or {})
        allowlist = ["404"] if response_error_codes_allowlist is None else list(
            response_error_codes_allowlist)
        self.response_error_codes_allowlist = [str(code) for code in allowlist]
        self.response_check = response_check
        self.extra_options = dict(extra_options or {})

    def poke(self, context: dict[str, Any]) -> bool:
        from millstream.hooks.http import HttpError, HttpHook

        hook = HttpHook(self.method, http_conn_id=self.http_conn_id)
        log.info("Poking: %s %s", self.method, self.endpoint)
        try:
            response = hook.run(self.endpoint, data=self.request_params, headers=self.headers,
                                extra_options=self.extra_options, **self.request_kwargs)
        except HttpError as exc:
            if str(exc.status_code) in self.response_error_codes_allowlist:
                log.info("HTTP %s: not yet", exc.status_code)
                return False
            raise
        if self.response_check is None:
            return True
        from millstream.operators.python import callable_kwargs

        kwargs = callable_kwargs(self.response_check, [response], {}, context)
        return bool(self.response_check(response, **kwargs))

    def make_trigger(self, context: dict[str, Any], first_wait: float = 0.0) -> HttpTrigger:
        return HttpTrigger(
            endpoint=self.endpoint,
            http_conn_id=self.http_conn_id,
            method=self.method,
            data=self.request_params,
            headers=self.headers,
            extra_options=self.extra_options,
            request_kwargs=self.request_kwargs,
            response_error_codes_allowlist=self.response_error_codes_allowlist,
            poke_interval=self.poke_interval.total_seconds(),
            first_wait=first_wait,
        )

    def defer(self, *, trigger: Any, method_name: str, kwargs: dict[str, Any] | None = None,
              timeout: timedelta | float | None = None) -> NoReturn:
        # The deadline travels with the deferral, so that deferring again after a
        # response_check said "not yet" does not extend the sensor's timeout.
        kwargs = dict(kwargs or {})
        if timeout is not None and "deadline" not in kwargs:
            seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
            kwargs["deadline"] = current_clock().now() + timedelta(seconds=seconds)
        super().defer(trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=timeout)

    def execute_complete(self, context: dict[str, Any], event: Any = None,
                         deadline: datetime | None = None) -> Any:
        """The endpoint answered: done, unless ``response_check`` (run here, in the worker,
        on a fresh request) says not yet, in which case the sensor defers again."""
        super().execute_complete(context, event)
        if self.response_check is None or self.poke(context):
            return None
        now = current_clock().now()
        deadline = deadline or now + self.timeout
        if now >= deadline:
            raise TaskDeferralTimeout(
                f"response_check still false at the timeout ({self.timeout.total_seconds():g} s)")
        self.defer(trigger=self.make_trigger(context, self.poke_interval.total_seconds()),
                   method_name="execute_complete", kwargs={"deadline": deadline},
                   timeout=deadline - now)
