"""MajorityRedis against real servers: from_urls, passwords, closing, n_servers, timeouts."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from majorityredis import MajorityRedis, MajorityRedisError, NoQuorum
from majorityredis.fanout import Command

pytestmark = pytest.mark.integration

PASSWORD = "s3cret-pw"


def test_from_urls_works_end_to_end(redis3):
    with MajorityRedis.from_urls(redis3.urls, socket_timeout=0.5) as mr:
        assert mr.quorum == 2 and mr.timeout == 0.5
        mr.set("k", "v")
        assert mr.get("k") == b"v"
        mr.delete("k")
        assert mr.get("k") is None


def test_from_urls_with_a_password_works(redis_nodes):
    nodes = redis_nodes(3, password=PASSWORD)
    urls = [f"redis://:{PASSWORD}@{s.host}:{s.port}/0" for s in nodes.servers]
    with MajorityRedis.from_urls(urls, socket_timeout=0.5) as mr:
        mr.set("k", "secret value")
        assert mr.get("k") == b"secret value"
    node = nodes.direct(0)
    assert node.hget("mr:reg:k", "v") == b"secret value"


@pytest.mark.parametrize("auth", [":wrong-password@", ""], ids=["wrong-password", "no-password"])
def test_a_bad_password_is_a_no_quorum_naming_the_authentication_error(redis_nodes, auth):
    """Every node refuses: NoQuorum (a MajorityRedisError) whose per-node errors are AuthenticationError."""
    nodes = redis_nodes(3, password=PASSWORD)
    urls = [f"redis://{auth}{s.host}:{s.port}/0" for s in nodes.servers]
    with MajorityRedis.from_urls(urls, socket_timeout=0.5) as mr:
        for operation in (lambda: mr.get("k"), lambda: mr.set("k", "v")):
            with pytest.raises(NoQuorum) as info:
                operation()
            error = info.value
            assert isinstance(error, MajorityRedisError)
            assert error.agreed == 0 and len(error.errors) >= 2  # decided once a quorum became impossible
            assert all(isinstance(e, redis.AuthenticationError) for e in error.errors.values())
            assert "AuthenticationError" in str(error)
            assert all(label in str(error) for label in error.errors)  # names the nodes that refused
    if auth:
        assert "invalid username-password pair" in str(error)
    assert nodes.direct(0).exists("mr:reg:k") == 0  # nothing was written


def test_one_node_with_a_wrong_password_is_outvoted(redis_nodes):
    good = redis_nodes(2, password=PASSWORD)
    other = redis_nodes(1, password="another")
    servers = good.servers + other.servers
    urls = [f"redis://:{PASSWORD}@{s.host}:{s.port}/0" for s in servers]
    with MajorityRedis.from_urls(urls, socket_timeout=0.5) as mr:
        mr.set("k", "v")
        assert mr.get("k") == b"v"
        replies = mr.fanout.call(Command(("PING",)))
        assert isinstance(replies.values[2], redis.AuthenticationError)


def test_clients_made_elsewhere_are_left_open_by_close(redis3):
    clients = redis3.clients()
    mr = MajorityRedis(clients)
    mr.set("k", "v")
    mr.close()
    assert clients[0].ping() is True  # not ours to close
    again = MajorityRedis(clients)
    assert again.get("k") == b"v"


def test_close_releases_parked_connections(redis3):
    mr = MajorityRedis.from_urls(redis3.urls, socket_timeout=2.0, timeout=5.0)
    mr.set("k", "v")
    assert len(mr.fanout.call(Command(("PING",))).ok()) == 3  # every node answered: all connections idle
    redis3.servers[2].pause()
    try:
        mr.fanout.call(Command(("GET", "k")), done=lambda r: len(r.ok()) >= 2)
        # the paused node's connection is parked owing its reply (at once, or - when its connection
        # had to be remade because an earlier reply came late - as soon as the connect finishes)
        waited_until = time.monotonic() + 3.0
        while not mr.fanout._parked[2] and time.monotonic() < waited_until:
            time.sleep(0.01)
        assert len(mr.fanout._parked[2]) >= 1
        mr.close()
        assert mr.fanout._parked[2] == []
    finally:
        redis3.servers[2].resume()


def test_a_timeout_shorter_than_the_socket_timeout_bounds_every_call(redis5):
    """A call never waits past `timeout`, whatever the clients' socket timeout (here 30 s)."""
    mr = MajorityRedis(redis5.clients(socket_timeout=30.0), timeout=0.5)
    mr.set("k", "v")
    for server in redis5.servers[:3]:
        server.pause()
    try:
        for operation in (lambda: mr.get("k"), lambda: mr.set("k", "w")):
            started = time.monotonic()
            with pytest.raises(NoQuorum):
                operation()
            assert time.monotonic() - started < 0.5 + 5.0  # far from the 30 s socket timeout
    finally:
        for server in redis5.servers[:3]:
            server.resume()


def test_many_threads_share_one_instance(redis5):
    """8 threads set and get their own keys through one MajorityRedis; each sees its own values."""
    mr = MajorityRedis(redis5.clients(socket_timeout=2.0), timeout=5.0)
    failures: list[str] = []

    def worker(t: int) -> None:
        for i in range(60):
            key = f"t{t}:{i % 5}"
            try:
                mr.set(key, f"{t}-{i}")
                got = mr.get(key)
            except Exception as error:  # noqa: BLE001
                failures.append(f"{t}: {error!r}")
                return
            if got != f"{t}-{i}".encode():
                failures.append(f"thread {t} read {got!r} for {key}, wrote {t}-{i}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert mr.get("t7:4") == b"7-59"
