"""Each request owns one transaction: committed when the route returns, rolled back when it
raises, and over before a streaming response starts (so a stream holds no lock); a GET
request's transaction is read-only (it holds no lock either, and cannot write)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from millstream.api.deps import StoreDep
from millstream.exceptions import ConflictError
from millstream.store.sql import SqlStore, make_engine
from millstream.ui.server import create_app
from tests.integration.api.api_helpers import ApiEnv


@pytest.fixture
def client(api: ApiEnv) -> Iterator[TestClient]:
    app = create_app(api.settings)
    engine = make_engine(api.settings.database.url)

    @app.post("/test/pool-then-fail")
    def pool_then_fail(store: StoreDep) -> None:
        store.pools.set("rolled_back", 3, "")
        raise ConflictError("refused after a write")

    @app.post("/test/pool")
    def pool(store: StoreDep) -> dict[str, bool]:
        store.pools.set("committed", 2, "")
        return {"ok": True}

    def seconds_to_write_pool(name: str) -> float:
        """Write a pool in a store of its own; how long that took (waiting for locks)."""
        started = time.monotonic()
        other = SqlStore(engine)
        try:
            with other.transaction():
                other.pools.set(name, 1, "")
        finally:
            other.close()
        return time.monotonic() - started

    @app.post("/test/stream")  # a POST: its transaction holds SQLite's write lock
    def stream(store: StoreDep) -> StreamingResponse:
        store.pools.list()  # the request's transaction has begun

        def body() -> Iterator[bytes]:
            yield f"{seconds_to_write_pool('written_while_streaming'):.3f}".encode()

        return StreamingResponse(body(), media_type="text/plain")

    @app.get("/test/pool-on-get")
    def pool_on_get(store: StoreDep) -> None:
        store.pools.set("written_by_a_get", 1, "")

    @app.get("/test/write-elsewhere")
    def write_elsewhere(store: StoreDep) -> dict[str, float]:
        store.pools.list()  # the request's read-only transaction has begun: no lock on SQLite
        return {"waited_s": seconds_to_write_pool("written_while_reading")}

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    engine.dispose()


def test_a_route_that_raises_leaves_nothing_behind(client: TestClient, api: ApiEnv) -> None:
    assert client.post("/test/pool-then-fail").status_code == 409
    assert api.store().pools.slots("rolled_back") is None


def test_a_route_that_returns_is_committed(client: TestClient, api: ApiEnv) -> None:
    assert client.post("/test/pool").status_code == 200
    assert api.store().pools.slots("committed") == 2


def test_a_streaming_response_holds_no_transaction(client: TestClient, api: ApiEnv) -> None:
    response = client.post("/test/stream")
    assert response.status_code == 200, response.text
    assert float(response.text) < 1.0  # no wait for a lock the request still held
    assert api.store().pools.slots("written_while_streaming") == 1


def test_a_get_request_cannot_write(client: TestClient, api: ApiEnv) -> None:
    assert client.get("/test/pool-on-get").status_code == 500
    assert api.store().pools.slots("written_by_a_get") is None


def test_a_get_request_holds_no_write_lock(client: TestClient, api: ApiEnv) -> None:
    response = client.get("/test/write-elsewhere")
    assert response.status_code == 200, response.text
    assert response.json()["waited_s"] < 1.0  # SQLite's busy timeout is 30 s
    assert api.store().pools.slots("written_while_reading") == 1
