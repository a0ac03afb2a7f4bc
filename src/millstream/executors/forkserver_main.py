"""The fork server started as a fresh interpreter: workers that never saw the scheduler's imports.

Forked from the scheduler, the fork server (and every zygote and worker after it) would
carry whatever the scheduler had imported by then: SQLAlchemy's ORM, the settings
models, in ``standalone`` even the web server. So when its configuration can be
pickled (the scheduler command's always can: paths, and factories that are plain
objects naming a database URL), the local executor starts the server with ``exec`` of
this module instead: the server imports millstream's task runner and nothing else, and
the libraries a try needs are imported by the try itself, once per worker.

The parent passes three inherited file descriptors on the command line: the pipe the
workloads come in on, the pipe the events go out on, and a pipe holding the pickled
configuration (with the parent's ``sys.path``, so the factories it names can be
imported, and the ``[limits]`` in force there, which a fork would have inherited). The
server writes one ``ready`` line once it is warm.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import select
import sys
import time
import traceback
from typing import Any

from millstream.executors.fork_config import ForkServerConfig
from millstream.model.limits import limits_in_force, use_limits
from millstream.observability.emit import process_state, restore_state

READY_LINE = b'{"kind":"ready"}\n'
"""What the server says first, once it is warm."""

log = logging.getLogger("millstream.executors.local")


def launch(config: ForkServerConfig, to_read: int, from_write: int) -> int | None:
    """Start the server as ``python -m`` this module over the two pipe ends; its pid.

    None if the configuration cannot be passed to another interpreter (it holds
    closures, as tests' may): the caller forks the server instead.
    """
    payload = _payload(config)
    if payload is None:
        return None
    config_read, config_write = os.pipe()
    try:
        os.write(config_write, payload)
        os.close(config_write)
        config_write = -1
        fds = (to_read, from_write, config_read)
        for fd in fds:
            os.set_inheritable(fd, True)
        argv = [sys.executable, "-m", __name__, *(str(fd) for fd in fds)]
        return os.posix_spawn(sys.executable, argv, os.environ)
    except OSError as exc:  # no interpreter to start (an embedded one): fork instead
        log.warning("cannot start the fork server as %s: %s", sys.executable, exc)
        return None
    finally:
        for fd in (config_read, config_write):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)


def can_launch(config: ForkServerConfig) -> bool:
    """Whether the configuration can be passed to a fresh interpreter (else the server is
    forked from this process, which must then happen before it starts threads)."""
    return _payload(config) is not None


def _payload(config: ForkServerConfig) -> bytes | None:
    buffer = io.BytesIO()
    try:
        _Pickler(buffer).dump({"sys_path": list(sys.path), "config": config,
                               "limits": limits_in_force(), "observability": process_state()})
    except (pickle.PicklingError, TypeError, AttributeError):
        return None
    payload = buffer.getvalue()
    return payload if len(payload) <= 60_000 else None  # what a pipe holds before a read


class _Pickler(pickle.Pickler):
    """Refuses what only this process has: a function or class of its ``__main__``."""

    def reducer_override(self, obj: Any) -> Any:
        if getattr(obj, "__module__", None) == "__main__" and callable(obj):
            raise pickle.PicklingError(f"{obj!r} lives in __main__")
        return NotImplemented


def wait_until_ready(from_server: int, timeout: float) -> bool:
    """Read a fresh server's ready line (nothing else comes before it); False if the
    server ended first. After ``timeout`` seconds it gives up waiting, saying True."""
    seen = bytearray()
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0 and not seen.startswith(READY_LINE):
        select.select([from_server], [], [], left)
        try:
            chunk = os.read(from_server, len(READY_LINE) - len(seen))
        except BlockingIOError:
            continue
        if not chunk:
            return False
        seen += chunk
    if not seen.startswith(READY_LINE):
        log.warning("the fork server is not ready after %g s; going on", timeout)
    return True


def _load(config_fd: int) -> ForkServerConfig:
    chunks = []
    while chunk := os.read(config_fd, 1 << 16):
        chunks.append(chunk)
    os.close(config_fd)
    data: dict[str, Any] = pickle.loads(b"".join(chunks))  # our parent wrote it
    sys.path[:] = data["sys_path"]
    use_limits(data["limits"])  # the [limits] in force here: a fork would have had them
    restore_state(data.get("observability"))  # metrics, StatsD, log format, traces: as there
    config = data["config"]
    if not isinstance(config, ForkServerConfig):
        raise TypeError(f"expected a ForkServerConfig, got {type(config).__name__}")
    return config


def main(argv: list[str]) -> int:
    """Serve as the fork server over the descriptors named in ``argv``; its exit code."""
    from millstream.executors.forkserver_process import serve_fresh

    in_fd, out_fd, config_fd = (int(arg) for arg in argv)
    for fd in (in_fd, out_fd):
        os.set_inheritable(fd, False)
    logging.basicConfig(level=logging.WARNING,
                        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    return serve_fresh(in_fd, out_fd, _load(config_fd))


if __name__ == "__main__":
    code = 70
    try:
        code = main(sys.argv[1:])
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        os._exit(code)
