"""Task logs per try: read in pieces, and followed over real HTTP while the try runs."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from millstream.model.states import TaskState
from millstream.runtime.worker import try_log_path
from millstream.store.records import TaskInstanceKey
from tests.integration.api.api_helpers import ApiEnv

EXTRACT = TaskInstanceKey("api_etl", "r1", "extract")
LOGS = "/dags/api_etl/dagRuns/r1/taskInstances/extract/logs"


def write_log(api: ApiEnv, try_number: int, text: str) -> None:
    path = try_log_path(api.log_folder, EXTRACT, try_number)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.write(text)


def test_each_try_has_its_own_log(api: ApiEnv) -> None:
    api.add_run("r1")
    api.start_run("r1")
    api.set_task("r1", "extract", TaskState.SUCCESS, tries=2)
    write_log(api, 1, "first try\nboom\n")
    write_log(api, 2, "second try\nok ✓\n")
    first = api.get("viewer", f"{LOGS}/1")
    assert first.status_code == 200
    assert (first.json()["content"], first.json()["finished"]) == ("first try\nboom\n", True)
    second = api.get("viewer", f"{LOGS}/2").json()
    assert second["content"] == "second try\nok ✓\n"
    assert second["next_offset"] == len("second try\nok ✓\n".encode())
    assert api.get("viewer", f"{LOGS}/3").status_code == 404
    assert api.get("viewer", f"{LOGS}/0").status_code == 422
    assert api.get(None, f"{LOGS}/1").status_code == 401


def test_a_log_is_read_in_pieces_on_whole_characters(api: ApiEnv) -> None:
    api.add_run("r1")
    api.start_run("r1")
    api.set_task("r1", "extract", TaskState.SUCCESS)
    text = "aé✓b\n"  # 1 + 2 + 3 + 1 + 1 bytes
    write_log(api, 1, text)
    pieces, offset, finished = [], 0, False
    while not finished:
        body = api.get("viewer", f"{LOGS}/1?offset={offset}&max_bytes=2").json()
        pieces.append(body["content"])
        offset, finished = body["next_offset"], body["finished"]
    assert "".join(pieces) == text
    assert pieces == ["a", "é", "✓", "b\n"]  # a 3-byte character is never split


def test_a_finished_try_without_a_log_file_is_a_404_naming_the_file(api: ApiEnv) -> None:
    api.add_run("r1")
    api.start_run("r1")
    api.set_task("r1", "extract", TaskState.FAILED)
    response = api.get("viewer", f"{LOGS}/1")
    assert response.status_code == 404
    assert str(try_log_path(api.log_folder, EXTRACT, 1)) in response.json()["detail"]


def test_a_running_try_without_a_log_yet_is_empty_and_unfinished(api: ApiEnv) -> None:
    api.add_run("r1")
    api.start_run("r1")
    api.set_task("r1", "extract", TaskState.RUNNING)
    body = api.get("viewer", f"{LOGS}/1").json()
    assert (body["content"], body["finished"], body["next_offset"]) == ("", False, 0)


@contextlib.contextmanager
def serving(api: ApiEnv) -> Iterator[str]:
    """The test's application served over HTTP on a free port of 127.0.0.1."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(api.client.app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                pytest.fail("the server did not start")
            threading.Event().wait(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_the_stream_follows_the_log_until_the_try_ends(api: ApiEnv) -> None:
    api.add_run("r1")
    api.start_run("r1")
    api.set_task("r1", "extract", TaskState.RUNNING)
    write_log(api, 1, "starting\n")
    received = b""
    with serving(api) as base, httpx.Client(base_url=base, timeout=30) as http:
        url = f"/api/v1{LOGS}/1/stream"
        with http.stream("GET", url, headers=api.headers("viewer")) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            chunks = response.iter_bytes()
            while b"starting\n" not in received:
                received += next(chunks)
            write_log(api, 1, "working\n")  # written while the try runs: it arrives
            while b"working\n" not in received:
                received += next(chunks)
            write_log(api, 1, "done\n")
            store = api.store()
            ti = store.task_instances.get(EXTRACT)
            assert ti is not None
            ti = store.task_instances.set_state(ti, TaskState.SUCCESS)
            for chunk in chunks:  # ends by itself once the try has ended
                received += chunk
    assert received == b"starting\nworking\ndone\n"


def test_the_stream_of_a_finished_try_is_its_whole_log(api: ApiEnv) -> None:
    api.add_run("r1")
    api.start_run("r1")
    api.set_task("r1", "extract", TaskState.SUCCESS)
    write_log(api, 1, "all of it\n")
    with serving(api) as base:
        response = httpx.get(f"{base}/api/v1{LOGS}/1/stream", headers=api.headers("viewer"),
                             timeout=30)
    assert (response.status_code, response.text) == (200, "all of it\n")
    missing = api.get("viewer", "/dags/api_etl/dagRuns/r1/taskInstances/load/logs/1/stream")
    assert missing.status_code == 404
