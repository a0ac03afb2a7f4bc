"""Checking a password for the web server: throttled, one hash at a time, in no transaction.

A password check costs tens of milliseconds of CPU (argon2). Three things keep password
guessing from hurting anyone else: the :class:`~millstream.model.login_throttle.LoginThrottle`
refuses an attempt from a locked-out account or address before any hashing; only one
password is hashed at a time, so guessing clients together use at most one core; and no
database transaction is open while hashing, so the metadata database (SQLite's single
writer) is not held. Authenticated requests check a token or session secret with SHA-256,
never a password, so they do not queue behind logins.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import Request

from millstream.api import accounts
from millstream.api.accounts import User
from millstream.api.deps import StoreOpener, app_context, utcnow
from millstream.config_sections import WebserverSettings
from millstream.model.login_throttle import LoginThrottle, ThrottlePolicy
from millstream.store.audit import audit

log = logging.getLogger("millstream.api.login")

__all__ = ["LoginGate", "TooManyLogins", "client_address", "login_gate", "policy_from_settings"]

_making_gate = threading.Lock()


class TooManyLogins(Exception):
    """A login refused unchecked because its account or address is locked out for now."""

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after_s = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(
            "too many failed logins for this account or from this address: try again in "
            f"{self.retry_after_s} s")


def policy_from_settings(settings: WebserverSettings) -> ThrottlePolicy:
    """The throttle policy that the ``[webserver]`` settings describe."""
    return ThrottlePolicy(
        failures_per_account=settings.login_failures_per_account,
        failures_per_address=settings.login_failures_per_address,
        base_lockout=timedelta(seconds=settings.login_lockout_s),
        max_lockout=timedelta(seconds=settings.login_lockout_max_s),
    )


class LoginGate:
    """The one way the web server checks a username and password."""

    def __init__(self, open_store: StoreOpener, policy: ThrottlePolicy,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._open_store = open_store
        self._clock = clock
        self._throttle = LoginThrottle(policy)
        self._counts_lock = threading.Lock()
        self._hashing = threading.BoundedSemaphore(1)

    def check(self, username: str, password: str, address: str) -> User | None:
        """The user these credentials belong to, or None; raises :class:`TooManyLogins`
        (checking nothing) while the account or the address is locked out."""
        with self._counts_lock:
            wait = self._throttle.wait(username, address, self._clock())
        if wait > timedelta(0):
            raise TooManyLogins(wait)
        user = None
        if username and password:
            with self._hashing, self._open_store() as store:
                user = accounts.authenticate(store, username, password)
        now = self._clock()
        with self._counts_lock:
            if user is not None:
                self._throttle.succeeded(username, address)
                return user
            lockout = self._throttle.failed(username, address, now)
        if lockout > timedelta(0):
            self._record_lockout(username, address, lockout, now)
        return None

    def _record_lockout(self, username: str, address: str, lockout: timedelta,
                        now: datetime) -> None:
        seconds = lockout.total_seconds()
        log.warning("login locked out for %.0f s after failed logins: username %r from %s",
                    seconds, username, address)
        with self._open_store() as store, store.transaction():
            audit(store, "login locked out", username or "(no username)", now,
                  address=address, seconds=seconds)


def login_gate(request: Request) -> LoginGate:
    """The login gate of the application serving ``request`` (made on first use)."""
    state = request.app.state
    with _making_gate:
        gate: LoginGate | None = getattr(state, "login_gate", None)
        if gate is None:
            context = app_context(request)
            gate = LoginGate(context.open_store, policy_from_settings(context.settings.webserver))
            state.login_gate = gate
    return gate


def client_address(request: Request) -> str:
    """The address a request came from (behind a proxy, the one uvicorn reads from
    X-Forwarded-For when ``FORWARDED_ALLOW_IPS`` names the proxy)."""
    return request.client.host if request.client is not None else "unknown"
