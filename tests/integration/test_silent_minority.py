"""One node of five silent (blackholed through Toxiproxy) costs no call the socket timeout.

The node's proxy gets a `timeout` toxic with timeout 0 on its upstream:
the proxy accepts and forwards nothing and never closes, so the client sees
a connection that never answers — a partition, not a crash (a crash would
refuse connections and answer at once). Every assertion on time is relative
to the socket timeout (well under it), never an absolute speed: before this
behaviour, release and a contended failing acquire waited for the silent
node until the timeout, on every call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import redis

from majorityredis import MajorityRedis
from tests.conftest import ProxiedNodes

SOCKET_TIMEOUT = 2.0
WELL_UNDER = SOCKET_TIMEOUT / 2
SILENT = 4


@pytest.fixture
def silent_one(proxied_redis5: ProxiedNodes) -> Iterator[tuple[MajorityRedis, ProxiedNodes]]:
    """A MajorityRedis over five proxied nodes whose node 5 is blackholed after warming up."""
    mr = MajorityRedis(proxied_redis5.clients(socket_timeout=SOCKET_TIMEOUT))
    try:
        warm = mr.lock("warm-up", ttl=5.0)
        assert warm.acquire()        # connections to every node are open before the fault
        warm.release()
        proxy = proxied_redis5.proxies[SILENT]
        proxied_redis5.control.add_toxic(proxy.name, "timeout", stream="upstream", attributes={"timeout": 0})
        probe = redis.Redis(host=proxy.listen_host, port=proxy.listen_port, socket_timeout=0.3,
                            socket_connect_timeout=0.3)
        with pytest.raises(redis.exceptions.TimeoutError):
            probe.ping()             # the fault is in place: the node answers nothing
        probe.close()
        yield mr, proxied_redis5
    finally:
        mr.close()
        for client in mr.clients:
            client.close()


def _timed(op: Callable[[], object]) -> tuple[object, float]:
    started = time.monotonic()
    result = op()
    return result, time.monotonic() - started


def test_release_returns_without_the_silent_node(silent_one):
    mr, nodes = silent_one
    lock = mr.lock("L", ttl=10.0)
    for _ in range(3):
        assert lock.acquire(blocking=False)
        _none, elapsed = _timed(lock.release)
        assert elapsed < WELL_UNDER
    # the reachable nodes all got their RELEASE
    assert all(nodes.nodes.direct(i).exists("L") == 0 for i in range(4))


def test_a_contended_failing_acquire_returns_without_the_silent_node(silent_one):
    mr, nodes = silent_one
    holder = mr.lock("L", ttl=30.0)
    assert holder.acquire(blocking=False)
    waiter = mr.lock("L", ttl=10.0)
    for _ in range(3):
        acquired, elapsed = _timed(lambda: waiter.acquire(blocking=False))
        assert acquired is False
        assert elapsed < WELL_UNDER
    failure = waiter.last_failure
    assert failure is not None and failure.agreed == 0
    assert any("no reply" in str(reason) for reason in failure.errors.values())   # node 5 never answered
    assert sum(nodes.nodes.direct(i).get("L") == nodes.nodes.direct(0).get("L") for i in range(4)) == 4
    holder.release()


def test_extend_and_a_fresh_lock_name_do_not_wait_for_the_silent_node(silent_one):
    mr, _nodes = silent_one
    lock = mr.lock("fresh-name", ttl=10.0)   # no counter anywhere yet: the slow path
    acquired, first = _timed(lambda: lock.acquire(blocking=False))
    assert acquired and lock.token == 1
    # the first call that met the silent node may wait for it once; afterwards it is known silent
    time.sleep(SOCKET_TIMEOUT)
    other = mr.lock("another-fresh-name", ttl=10.0)
    acquired, elapsed = _timed(lambda: other.acquire(blocking=False))
    assert acquired and elapsed < WELL_UNDER
    extended, elapsed = _timed(lock.extend)
    assert extended and elapsed < WELL_UNDER
    lock.release()
    other.release()


def test_queue_calls_do_not_wait_for_the_silent_node(silent_one):
    mr, _nodes = silent_one
    queue = mr.queue("Q")
    _id, elapsed = _timed(lambda: queue.put("a"))
    assert elapsed < WELL_UNDER
    msg, elapsed = _timed(lambda: queue.get(ttl=10.0))
    assert msg is not None and elapsed < WELL_UNDER
    extended, elapsed = _timed(lambda: queue.extend_lock(msg))
    assert extended and elapsed < WELL_UNDER
    _none, elapsed = _timed(lambda: queue.release(msg))
    assert elapsed < WELL_UNDER
    msg = queue.get(ttl=10.0)
    assert msg is not None
    consumed, elapsed = _timed(lambda: queue.consume(msg))
    assert consumed and elapsed < WELL_UNDER
    # an empty get and size are claims about every node: they may wait for the silent node
    # once, until it has answered nothing for longer than the timeout; not afterwards
    assert queue.get(ttl=10.0) is None
    time.sleep(SOCKET_TIMEOUT)
    empty, elapsed = _timed(lambda: queue.get(ttl=10.0))
    assert empty is None and elapsed < WELL_UNDER
    size, elapsed = _timed(queue.size)
    assert size == 0 and elapsed < WELL_UNDER
    assert SILENT in mr.silence.silent()


def test_register_calls_do_not_wait_for_the_silent_node(silent_one):
    mr, _nodes = silent_one
    _none, elapsed = _timed(lambda: mr.set("k", "v"))
    assert elapsed < WELL_UNDER
    value, elapsed = _timed(lambda: mr.get("k"))
    assert value == b"v" and elapsed < WELL_UNDER
    _none, elapsed = _timed(lambda: mr.delete("k"))
    assert elapsed < WELL_UNDER
    assert mr.get("k") is None
