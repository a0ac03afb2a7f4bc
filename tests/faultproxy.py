"""A TCP proxy on 127.0.0.1 that a test puts between millstream and a server to fake outages.

``open``: bytes flow both ways. ``closed``: every connection is closed and new ones are
closed as soon as they are accepted (a server that is down or restarting). ``stranded``:
connections stay open and new ones are accepted, but every byte is swallowed (a path that
drops packets while the kernel still acknowledges them). Connections stranded once stay
stranded after the proxy opens again, as behind a middlebox that lost their state; new
ones flow. The proxy runs in a thread of the test and stops with it.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Iterator
from typing import Literal

Mode = Literal["open", "closed", "stranded"]


class FaultProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; ``set_mode`` fakes an outage."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._peers: dict[socket.socket, socket.socket] = {}
        self._stranded: set[socket.socket] = set()
        self._mode: Mode = "open"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._serve, name="fault-proxy", daemon=True)
        self.accepted = 0

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def set_mode(self, mode: Mode) -> None:
        with self._lock:
            self._mode = mode
        self._wake_w.send(b"x")

    def stop(self) -> None:
        self._stop.set()
        self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        for sock in list(self._peers):
            self._close(sock)
        for sock in list(self._stranded):
            with contextlib.suppress(OSError):
                sock.close()
        self._listener.close()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- the thread -----------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                mode = self._mode
            if mode == "closed":
                for sock in list(self._peers):
                    self._close(sock)
            elif mode == "stranded":
                for sock in list(self._peers):
                    self._strand(sock)
            for key, _ in self._selector.select(timeout=0.2):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._wake_r:
                    with contextlib.suppress(OSError):
                        sock.recv(1024)
                elif sock is self._listener:
                    self._accept()
                elif sock in self._stranded:
                    self._swallow(sock)
                elif sock in self._peers:
                    self._forward(sock)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        with self._lock:  # the mode now: it may have changed since this round began
            mode = self._mode
        self.accepted += 1
        if mode == "closed":
            client.close()
            return
        if mode == "stranded":
            client.setblocking(False)
            self._stranded.add(client)
            self._selector.register(client, selectors.EVENT_READ, None)
            return
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        for sock in (client, server):
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ, None)
        self._peers[client] = server
        self._peers[server] = client

    def _forward(self, sock: socket.socket) -> None:
        peer = self._peers[sock]
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close(sock)
            return
        try:
            peer.setblocking(True)
            peer.sendall(data)
            peer.setblocking(False)
        except OSError:
            self._close(sock)

    def _swallow(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client gave up: let it go
            self._selector.unregister(sock)
            self._stranded.discard(sock)
            sock.close()

    def _strand(self, sock: socket.socket) -> None:
        """Swallow from now on: both ends stay open, so neither side hears of it."""
        peer = self._peers.pop(sock, None)
        if peer is not None:
            self._peers.pop(peer, None)
            self._stranded.update((sock, peer))

    def _close(self, sock: socket.socket) -> None:
        peer = self._peers.pop(sock, None)
        for one in (sock, peer):
            if one is None:
                continue
            self._peers.pop(one, None)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(one)
            with contextlib.suppress(OSError):
                one.close()


@contextlib.contextmanager
def fault_proxy(target_host: str, target_port: int) -> Iterator[FaultProxy]:
    """A started proxy to ``target``, stopped when the block ends."""
    proxy = FaultProxy(target_host, target_port).start()
    try:
        yield proxy
    finally:
        proxy.stop()
