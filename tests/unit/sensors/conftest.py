"""What the sensor tests share: acting between two pokes, and a real HTTP server.

``between_pokes`` runs an action when the sensor logs that it found nothing yet (a poke
that will be followed by another, a reschedule, or a deferral), so a file or a row
appears while the sensor waits, deterministically, without sleeping in the test.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

# What the sensor machinery logs when a poke found nothing and the sensor waits on.
WAITING_MARKERS = ("condition not met", "rescheduled: next poke", "deferred:")


class _BetweenPokes(logging.Handler):
    def __init__(self, action: Callable[[], None], after: int) -> None:
        super().__init__()
        self.action = action
        self.after = after
        self.seen = 0
        self.done = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.done or not any(m in record.getMessage() for m in WAITING_MARKERS):
            return
        self.seen += 1
        if self.seen >= self.after:
            self.done = True
            self.action()


@pytest.fixture
def between_pokes() -> Iterator[Callable[..., _BetweenPokes]]:
    """``between_pokes(action, after=1)``: run ``action`` once the sensor has waited
    ``after`` times; the returned handler's ``seen`` counts the waits."""
    logger = logging.getLogger("millstream.task")
    handlers: list[_BetweenPokes] = []
    level = logger.level

    def install(action: Callable[[], None], after: int = 1) -> _BetweenPokes:
        handler = _BetweenPokes(action, after)
        handlers.append(handler)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        return handler

    yield install
    for handler in handlers:
        logger.removeHandler(handler)
    logger.setLevel(level)


@dataclass
class Endpoint:
    """What the test server answers on one path: a list of (status, JSON body) answers,
    the last repeated forever, and the requests it received."""

    answers: list[tuple[int, Any]]
    requests: list[dict[str, Any]] = field(default_factory=list)

    def answer(self) -> tuple[int, Any]:
        index = min(len(self.requests) - 1, len(self.answers) - 1)
        return self.answers[index]


class HttpServer:
    """A real HTTP server on 127.0.0.1 and a free port, answering per path."""

    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self) -> None:
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                with server.lock:
                    endpoint = server.endpoints.get(path)
                    if endpoint is None:
                        status, payload = 404, {"error": f"no endpoint {path}"}
                    else:
                        endpoint.requests.append({
                            "method": self.command, "query": query, "body": body,
                            "headers": dict(self.headers.items()),
                        })
                        status, payload = endpoint.answer()
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output for failures

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, path: str, *answers: tuple[int, Any]) -> Endpoint:
        endpoint = Endpoint(list(answers))
        with self.lock:
            self.endpoints[path] = endpoint
        return endpoint


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    """A real HTTP server on 127.0.0.1 (a free port), stopped after the test."""
    server = HttpServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=10)
