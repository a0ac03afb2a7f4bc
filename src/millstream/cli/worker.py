"""``millstream worker``: a Celery worker that runs the tries the Celery executor sends."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console(soft_wrap=True)


def _queues(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise typer.BadParameter("give one or more queue names, comma-separated")
    return names


def worker(
    queues: Annotated[str | None, typer.Option(
        "--queues", "-q",
        help="the Celery queues to take tries from, comma-separated (default: "
             "celery.default_queue)")] = None,
    concurrency: Annotated[int | None, typer.Option(
        "--concurrency", "-c", min=1, max=1024,
        help="tries run at once (default: celery.worker_concurrency)")] = None,
    hostname: Annotated[str | None, typer.Option(
        "--hostname", "-n",
        help="this worker's name, recorded as the hostname of the tries it runs; the web "
             "server fetches their logs from the host after '@' (default: "
             "millstream@<this host>)")] = None,
) -> None:
    """Run tries sent by a scheduler with scheduler.executor = "celery" (SIGTERM: finish
    the running tries, then stop)."""
    from millstream.cli.celery_engine import check_celery_database
    from millstream.cli.common import guarded
    from millstream.cli.engine import open_sql_store
    from millstream.config import load_settings

    names = _queues(queues)  # bad arguments first: they need no settings
    with guarded():
        settings = load_settings()
        check_celery_database(settings, "millstream worker")
        store = open_sql_store(settings)  # reachable, and migrated
        store.close()
        store.engine.dispose()  # the fork server must not inherit a connection
    celery = settings.celery
    names = names or [celery.default_queue]
    node = hostname or f"millstream@{socket.gethostname()}"
    from millstream import observability

    observability.setup_logging(settings)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # Celery's "received" and "succeeded" lines repeat this worker's own "running" and
        # "ended" lines of each try (and cost a worker about a twentieth of its time).
        for name in ("celery.worker.strategy", "celery.app.trace"):
            logging.getLogger(name).setLevel(logging.WARNING)
    observability.configure(settings)  # before the fork server: it takes the same
    from millstream.executors.celery_app import RUN_TRY, TryMessage, make_app
    from millstream.scheduler.remote_worker import RemoteTries, WorkerConfig

    sched = settings.scheduler
    tries = RemoteTries(WorkerConfig(
        settings.database.url, Path(settings.logging.base_log_folder), node,
        concurrency or celery.worker_concurrency, sched.heartbeat_interval_s,
        sched.file_parse_timeout_s, sched.file_parse_memory_mb,
        settings.executor.tries_per_process, settings.executor.max_memory_growth_mb))
    # The fork server copies this process: it starts before Celery's threads and sockets.
    tries.start()
    observability.serve_worker(settings)
    server = None
    secret = celery.log_server_secret
    if secret is not None:
        from millstream.runtime.log_serving import LogServer

        server = LogServer(Path(settings.logging.base_log_folder), secret.get_secret_value(),
                           celery.log_server_host, celery.log_server_port)
        server.start()
        console.print(f"serving task logs on port {server.port}")
    else:
        console.print("[yellow]warning:[/yellow] celery.log_server_secret is not set: the "
                      "web server cannot show the logs of tries run here")
    app = make_app(celery.broker_url, celery.default_queue)

    @app.task(name=RUN_TRY)  # type: ignore[untyped-decorator]
    def run_try(*args: Any) -> str:
        return tries.run(TryMessage.from_args(args))

    console.print(f"[green]worker {node}[/green] on queues {', '.join(names)}, "
                  f"{tries.config.concurrency} at once", highlight=False)
    try:
        celery_worker = app.Worker(
            hostname=node, queues=names, concurrency=tries.config.concurrency,
            pool_cls="threads", loglevel=settings.logging.level, optimization="fair",
            without_gossip=True, without_mingle=True, without_heartbeat=True, quiet=True)
        celery_worker.start()
        code = celery_worker.exitcode or 0
    finally:
        if server is not None:
            server.stop()
        tries.stop()
    raise typer.Exit(code)
