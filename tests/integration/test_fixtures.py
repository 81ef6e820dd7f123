"""The server fixtures themselves: real processes that answer, and that die at teardown."""

from __future__ import annotations

import time

import pytest
import redis

from harness.cluster.processes import RedisServer
from tests.support.probes import alive

pytestmark = pytest.mark.integration



def test_five_nodes_answer_on_distinct_ports(redis5):
    ports = {s.port for s in redis5.servers}
    assert len(ports) == 5
    for client in redis5.clients():
        assert client.ping() is True


def test_nodes_are_independent(redis3):
    a, b, _ = redis3.clients()
    a.set("k", "1")
    assert b.get("k") is None


def test_kill_and_restart_empty_loses_data(redis3):
    server = redis3.servers[0]
    client = redis3.clients()[0]
    client.set("k", "v")
    pid = server.pid
    server.kill()
    assert pid is not None and not alive(pid)
    with pytest.raises(redis.ConnectionError):
        client.ping()
    server.restart(empty=True)
    assert client.get("k") is None


def test_appendonly_always_survives_sigkill(redis_nodes):
    nodes = redis_nodes(1, persistence="appendonly always")
    client = nodes.clients()[0]
    client.set("k", "v")
    nodes.servers[0].kill()
    nodes.servers[0].start()
    assert client.get("k") == b"v"


def test_pause_makes_the_node_time_out(redis3):
    server = redis3.servers[1]
    client = redis3.clients(socket_timeout=0.2)[1]
    server.pause()
    with pytest.raises(redis.TimeoutError):
        client.ping()
    server.resume()
    assert client.ping() is True


def test_password_is_required(redis_nodes):
    nodes = redis_nodes(1, password="s3cret")
    server = nodes.servers[0]
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host=server.host, port=server.port).ping()
    assert redis.Redis.from_url(server.url).ping() is True


def test_stop_leaves_no_process(tmp_path):
    server = RedisServer("solo", tmp_path / "solo")
    server.start()
    pid = server.pid
    server.stop()
    assert pid is not None and not alive(pid)


def test_toxiproxy_disable_cuts_the_node(proxied_redis3):
    clients = proxied_redis3.clients(socket_timeout=0.3)
    assert all(c.ping() for c in clients)
    proxied_redis3.control.disable("n1")
    with pytest.raises(redis.ConnectionError):
        clients[0].ping()
    assert clients[1].ping() is True
    proxied_redis3.control.enable("n1")
    assert clients[0].ping() is True


def test_toxiproxy_latency_toxic_is_applied(proxied_redis3):
    control = proxied_redis3.control
    clients = proxied_redis3.clients(socket_timeout=2.0)
    assert all(c.ping() for c in clients)   # connections are open before the toxic
    control.add_toxic("n2", "latency", attributes={"latency": 200, "jitter": 0})
    assert control.toxics("n2") == ["latency_downstream"]
    # the toxic meets a command: a PING through proxy n2 takes at least the 200 ms it adds
    started = time.monotonic()
    assert clients[1].ping() is True
    assert time.monotonic() - started >= 0.2
    control.reset()
    assert control.toxics("n2") == []
