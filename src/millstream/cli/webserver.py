"""``millstream webserver``: the web UI and REST API under uvicorn; also run inside standalone."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from millstream import observability
from millstream.cli.common import fail, guarded, load_settings, open_store

if TYPE_CHECKING:
    import uvicorn

    from millstream.config import Settings

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
LISTEN_BACKLOG = 2048  # uvicorn's default

console = Console()


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or a one-line error saying why it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        fail(f"the web server cannot listen on {host}:{port}: {exc.strerror or exc} (set "
             "[webserver] port, or MILLSTREAM__WEBSERVER__PORT, or pass --port)")
    # Listening at once queues connections made before the server is ready, so the URL
    # printed at start can be used right away.
    sock.listen(LISTEN_BACKLOG)
    return sock


def _server(settings: Settings) -> uvicorn.Server:
    import uvicorn

    from millstream.ui.server import create_app

    app = create_app(settings)
    config = uvicorn.Config(app, log_level=settings.logging.level.lower(), lifespan="on",
                            access_log=False, server_header=False,
                            # JSON logs: uvicorn's records go to the root logger's handler.
                            log_config=None if settings.logging.format == "json"
                            else uvicorn.config.LOGGING_CONFIG)
    return uvicorn.Server(config)


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _check_database(settings: Settings) -> None:
    """Reach the database first (migrating a new one): a problem is one line, not a trace."""
    with guarded(), open_store(settings):
        pass


@contextlib.contextmanager
def webserver_thread(settings: Settings) -> Iterator[str]:
    """Serve the web UI and API from a thread of this process; yields its URL.

    Used by ``standalone``; the server stops when the block ends.
    """
    sock = listen(settings.webserver.host, settings.webserver.port)
    server = _server(settings)
    server.config.log_level = "warning"
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="millstream-webserver", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                fail("the web server did not start (see the log above)")
            time.sleep(0.02)
        yield _url(*sock.getsockname()[:2])
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        sock.close()


HostOption = Annotated[str | None, typer.Option(
    "--host", help="Address to listen on (default: the webserver.host setting).")]
PortOption = Annotated[int | None, typer.Option(
    "--port", min=0, max=65535, help="Port (default: the webserver.port setting).")]


def with_web_address(settings: Settings, host: str | None, port: int | None) -> Settings:
    """The settings with the web server's host and port replaced where given."""
    changes = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if not changes:
        return settings
    web = settings.webserver.model_copy(update=changes)
    return settings.model_copy(update={"webserver": web})


def webserver(host: HostOption = None, port: PortOption = None) -> None:
    """Run the web UI and the REST API (/api/v1) until stopped (SIGTERM or Ctrl-C)."""
    with guarded():
        settings = with_web_address(load_settings(), host, port)
    observability.setup_logging(settings)
    observability.configure(settings)
    _check_database(settings)
    sock = listen(settings.webserver.host, settings.webserver.port)
    server = _server(settings)
    console.print(f"[green]web server on {_url(*sock.getsockname()[:2])}[/green] "
                  "(API at /api/v1, Ctrl-C to stop)", highlight=False)
    # uvicorn stops gracefully on SIGTERM/SIGINT, then hands the signal on to the handler
    # found at start: this one, so that a requested stop ends with exit code 0.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stopped)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def _stopped(signum: int, frame: object) -> None:
    console.print(f"received {signal.Signals(signum).name}: web server stopped")
