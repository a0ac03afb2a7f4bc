"""Task logs of remote workers over HTTP: each worker serves its log folder to the web server.

A worker runs :class:`LogServer` on ``[celery] log_server_port``. The web server asks the
worker recorded as a try's ``hostname`` (the part after ``@`` of a Celery node name, or
the whole name) for a piece of the try's log with :func:`fetch_log`. Every request
carries a token: an expiry moment and the HMAC-SHA256 of that moment and the requested
path under ``[celery] log_server_secret``, which both sides share; the secret itself
never crosses the network, a token is good for one path and a short while, and a
worker with no secret serves nothing.

``GET /log/<path of the try's log under the log folder>?offset=N&max_bytes=M`` answers
with the bytes from ``offset``, and the headers ``X-Log-Size`` (the file's size now)
and ``X-Try-Ended`` (``1`` once the try has left its result file).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from millstream.runtime.worker import RESULT_SUFFIX, try_log_path
from millstream.store.records import TaskInstanceKey

log = logging.getLogger("millstream.log_server")

TOKEN_LIFETIME_S = 60.0
AUTH_SCHEME = "Millstream-Log"
MAX_PIECE = 10_000_000
PREFIX = "/log/"


class LogServerError(Exception):
    """The worker's log server could not be asked, or refused."""


def make_token(secret: str, path: str, now: float | None = None) -> str:
    """A token for ``path`` (as requested, after ``/log/``) good for :data:`TOKEN_LIFETIME_S`."""
    expires = int((time.time() if now is None else now) + TOKEN_LIFETIME_S)
    return f"{expires}.{_mac(secret, expires, path)}"


def check_token(secret: str, path: str, token: str, now: float | None = None) -> bool:
    """Whether ``token`` was made for ``path`` with ``secret`` and has not expired."""
    stamp, _, mac = token.partition(".")
    try:
        expires = int(stamp)
    except ValueError:
        return False
    moment = time.time() if now is None else now
    if not moment <= expires <= moment + TOKEN_LIFETIME_S + 5:
        return False
    return hmac.compare_digest(mac, _mac(secret, expires, path))


def _mac(secret: str, expires: int, path: str) -> str:
    return hmac.new(secret.encode(), f"{expires}\n{path}".encode(), hashlib.sha256).hexdigest()


def relative_log_path(key: TaskInstanceKey, try_number: int) -> str:
    """Where a try's log is under any log folder (``/``-separated, components encoded)."""
    return try_log_path(Path("."), key, try_number).as_posix()


def log_server_host(hostname: str) -> str:
    """The host to reach a worker's log server at, from the hostname it recorded."""
    return hostname.rpartition("@")[2] or hostname


# -- the server (in the worker) ----------------------------------------------------------------
class LogServer:
    """Serves ``folder`` over HTTP on ``host:port`` (0: any free port) to token holders."""

    def __init__(self, folder: Path, secret: str, host: str = "0.0.0.0", port: int = 0) -> None:
        if not secret:
            raise ValueError("the log server needs a secret ([celery] log_server_secret)")
        self.folder = folder.resolve()
        handler = _handler(self.folder, secret)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Serve in a thread of this process."""
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="millstream-log-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()


def _handler(folder: Path, secret: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "millstream-log-server"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if not parts.path.startswith(PREFIX):
                self._answer(404, b"not a log path\n")
                return
            requested = parts.path[len(PREFIX):]
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            if scheme != AUTH_SCHEME or not check_token(secret, requested, token.strip()):
                self._answer(403, b"a valid token is needed\n")
                return
            path = (folder / unquote(requested)).resolve()
            if not path.is_relative_to(folder) or path.suffix != ".log":
                self._answer(404, b"not a log path\n")
                return
            query = parse_qs(parts.query)
            try:
                offset = max(0, int(query.get("offset", ["0"])[0]))
                size = min(MAX_PIECE, max(1, int(query.get("max_bytes", ["1000000"])[0])))
            except ValueError:
                self._answer(400, b"offset and max_bytes are integers\n")
                return
            try:
                with path.open("rb") as file:
                    total = os.fstat(file.fileno()).st_size
                    file.seek(offset)
                    data = file.read(size)
            except FileNotFoundError:
                self._answer(404, b"no such log\n")
                return
            ended = path.with_name(path.stem + RESULT_SUFFIX).exists()
            self._answer(200, data, {"X-Log-Size": str(total), "X-Try-Ended": str(int(ended))})

        def _answer(self, status: int, body: bytes,
                    headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return Handler


# -- the client (in the web server) ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RemoteLogPiece:
    """Bytes of a try's log on a worker, the file's size, and whether the try has ended."""

    data: bytes
    size: int
    ended: bool


def fetch_log(hostname: str, port: int, secret: str, key: TaskInstanceKey, try_number: int,
              offset: int, max_bytes: int, timeout_s: float = 5.0) -> RemoteLogPiece | None:
    """A piece of a try's log from the worker recorded as ``hostname``; None if that worker
    has no such log. :class:`LogServerError` when it cannot be asked or refuses."""
    path = relative_log_path(key, try_number)
    quoted = quote(path, safe="/=")
    url = f"http://{log_server_host(hostname)}:{port}{PREFIX}{quoted}"
    headers = {"Authorization": f"{AUTH_SCHEME} {make_token(secret, quoted)}"}
    import httpx  # on the first remote log asked for: a web server never asked keeps none

    try:
        response = httpx.get(url, params={"offset": offset, "max_bytes": max_bytes},
                             headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise LogServerError(f"cannot reach the log server of worker {hostname} at {url}: "
                             f"{exc}") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise LogServerError(f"the log server of worker {hostname} answered "
                             f"{response.status_code}: {response.text.strip()[:200]}")
    return RemoteLogPiece(response.content, int(response.headers.get("X-Log-Size", "0")),
                          response.headers.get("X-Try-Ended") == "1")


__all__ = ["LogServer", "LogServerError", "RemoteLogPiece", "check_token", "fetch_log",
           "log_server_host", "make_token", "relative_log_path"]
