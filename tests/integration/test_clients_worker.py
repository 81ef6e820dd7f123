"""The worker protocol's error handling, with real worker processes running small adapters
(the harness's own python; no Redis needed): a worker that crashes, hangs, fails to start
or prints to stdout becomes an "unknown" Attempt with a clear message, and no process is
left behind; pause() really stops the process."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path

import pytest

from harness.clients.specs import ClientSpec
from harness.clients.worker import ADAPTERS_DIR, WorkerClient
from tests.support.waiting import wait_until

SPEC = ClientSpec(name="fake", package="fake", version="0", shape="test double of a library",
                  scope="majority", fencing_tokens=False, reports_validity=True, extend=True,
                  adapter="fake_adapter.py")

ADAPTER = '''
import os, sys, time
from protocol import reply, serve

class Fake:
    def __init__(self, urls, socket_timeout):
        if urls == ["fail-at-start"]:
            raise RuntimeError("cannot import the library")
    def acquire(self, name, ttl):
        if name == "crash":
            print("about to crash: segfault in C code", file=sys.stderr, flush=True)
            os._exit(3)
        if name == "hang":
            time.sleep(3600)
        if name == "chatty":
            print("a library that prints to stdout")
        return reply("ok", validity=ttl)
    def extend(self, name, ttl):
        return reply("refused")
    def release(self, name):
        return reply("ok")
    def close(self):
        pass

serve("fake", Fake)
'''


@pytest.fixture
def adapter(tmp_path: Path) -> Path:
    shutil.copy(ADAPTERS_DIR / "protocol.py", tmp_path / "protocol.py")
    path = tmp_path / "fake_adapter.py"
    path.write_text(ADAPTER, encoding="utf-8")
    return path


@pytest.fixture
def make_client(adapter: Path):  # type: ignore[no-untyped-def]
    made: list[WorkerClient] = []

    def make(urls: list[str] | None = None, deadline: float = 10.0) -> WorkerClient:
        client = WorkerClient(SPEC, urls or ["redis://127.0.0.1:1"], 0.2, python=sys.executable,
                              deadline=deadline, adapter=adapter)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_a_working_worker_answers_and_reports_its_version(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    client.connect()
    attempt = client.acquire("lock0", 2.0)
    assert attempt.outcome == "ok" and attempt.valid_until is not None
    assert client.extend("lock0", 2.0).outcome == "refused"
    assert client.describe()["version"] == "unknown"  # no installed distribution named "fake"


def test_a_crash_is_unknown_with_its_last_words_then_a_fresh_worker(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    client.connect()
    pid = client.proc.pid
    attempt = client.acquire("crash", 2.0)
    assert attempt.outcome == "unknown"
    assert "exited with code 3" in attempt.error and "segfault in C code" in attempt.error
    assert not alive(pid)
    again = client.acquire("lock0", 2.0)  # a new worker, as a restarted client
    assert again.outcome == "ok" and client.proc.pid != pid
    assert client.describe()["worker_restarts"] == 1


def test_a_hung_worker_is_killed_at_the_deadline(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(deadline=1.0)
    client.connect()
    pid = client.proc.pid
    attempt = client.acquire("hang", 2.0)
    assert attempt.outcome == "unknown"
    assert "did not answer acquire within 1s; killed" in attempt.error
    assert not alive(pid)


def test_a_worker_that_cannot_start_says_why(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(urls=["fail-at-start"])
    client.connect()  # never raises: the first op reports it
    attempt = client.acquire("lock0", 2.0)
    assert attempt.outcome == "unknown"
    assert "did not start: RuntimeError: cannot import the library" in attempt.error
    assert client.proc is None


def test_stdout_prints_of_the_library_do_not_break_the_protocol(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    assert client.acquire("chatty", 2.0).outcome == "ok"
    assert client.acquire("lock0", 2.0).outcome == "ok"


def test_pause_stops_the_process_and_resume_continues_it(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    client.connect()
    pid = client.proc.pid

    def state() -> str:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0]

    client.pause()
    wait_until(lambda: state() == "T", describe=state)
    client.resume()
    wait_until(lambda: state() in "SR", describe=state)
    assert client.acquire("lock0", 2.0).outcome == "ok"


def test_close_leaves_no_process(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    client.connect()
    pid = client.proc.pid
    client.pause()  # even a stopped worker
    client.close()
    assert not alive(pid)


def test_the_worker_dies_with_the_thread_that_started_it(adapter: Path) -> None:
    started: list[int] = []

    def owner() -> None:  # starts a worker and ends without closing it
        client = WorkerClient(SPEC, ["redis://127.0.0.1:1"], 0.2, python=sys.executable, adapter=adapter)
        client.connect()
        started.append(client.proc.pid)

    thread = threading.Thread(target=owner)
    thread.start()
    thread.join()
    assert started and started[0] != os.getpid()
    wait_until(lambda: not alive(started[0]), timeout=10.0)
