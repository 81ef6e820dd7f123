"""Even cluster sizes on real redis-server nodes: 2 nodes (quorum 2) and 4 nodes (quorum 3).

With an even N a half is not a majority: an even split (one node of 2, two
of 4) must decide nothing, and one more node down than N/2 - 1 stops every
operation. The other integration tests use 3 or 5 nodes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from majorityredis import MajorityRedis, NoQuorum
from tests.support.probes import RecordingFanout
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

QUORUM = {2: 2, 4: 3}


@pytest.fixture(params=[2, 4], ids=["2-nodes", "4-nodes"])
def even(request, redis_nodes) -> Iterator[tuple[object, MajorityRedis]]:  # type: ignore[no-untyped-def]
    nodes = redis_nodes(request.param)
    with MajorityRedis.from_urls(nodes.urls, socket_timeout=0.5) as mr:
        yield nodes, mr


def test_quorum_is_a_strict_majority(even) -> None:
    nodes, mr = even
    assert mr.quorum == QUORUM[len(nodes.servers)]


def test_lock_half_held_by_someone_else_is_refused_and_undone(even) -> None:
    nodes, mr = even
    n = len(nodes.servers)
    half = range(n // 2)
    for i in half:
        nodes.direct(i).set("L", "other", px=10_000)
    lock = mr.lock("L", ttl=5.0)
    assert lock.acquire(blocking=False) is False   # n/2 grants: not a quorum
    failure = lock.last_failure
    assert failure is not None and failure.quorum == QUORUM[n]
    assert failure.agreed <= n // 2  # (read before the refusals decided it)
    assert [nodes.direct(i).get("L") for i in half] == [b"other"] * len(half)
    wait_until(lambda: all(nodes.direct(i).exists("L") == 0 for i in range(n // 2, n)), 2.0)  # undone


def test_lock_tokens_grow_and_holds_exclude(even) -> None:
    _nodes, mr = even
    first, second = mr.lock("L", ttl=5.0), mr.lock("L", ttl=5.0)
    assert first.acquire(blocking=False) and first.token == 1
    assert second.acquire(blocking=False) is False
    first.release()
    assert second.acquire(blocking=False) and second.token == 2
    second.release()


def test_lock_one_node_too_many_down_is_no_quorum_and_one_fewer_is_fine(even) -> None:
    nodes, mr = even
    n = len(nodes.servers)
    recorder = RecordingFanout.install(mr)
    tolerated = n - QUORUM[n]   # 0 of 2, 1 of 4
    for i in range(tolerated):
        nodes.servers[i].kill()
    lock = mr.lock("L", ttl=5.0)
    assert lock.acquire(timeout=2.0), lock.last_failure
    lock.release()
    nodes.servers[tolerated].kill()   # now only n/2 nodes are up
    assert lock.acquire(timeout=0.5) is False
    assert lock.last_failure is not None and lock.last_failure.agreed <= n // 2
    # the operations met the kills: no call after them had an answer from a killed node
    assert all(recorder.values_from(i) == [] for i in range(tolerated))


def test_queue_and_register_work_with_the_tolerated_nodes_down(even) -> None:
    nodes, mr = even
    n = len(nodes.servers)
    q = mr.queue("jobs")
    q.put("a")
    mr.set("k", "v1")
    recorder = RecordingFanout.install(mr)
    for i in range(n - QUORUM[n]):   # none of 2, one of 4
        nodes.servers[i].kill()
    msg = q.get(ttl=5.0)
    assert msg is not None and msg.item == b"a"
    assert q.consume(msg) is True
    assert q.get() is None
    assert mr.get("k") == b"v1"
    mr.set("k", "v2")
    assert mr.get("k") == b"v2"
    assert all(recorder.values_from(i) == [] for i in range(n - QUORUM[n]))
    nodes.servers[n - QUORUM[n]].kill()   # one more: half the nodes
    with pytest.raises(NoQuorum):
        q.put("b")
    with pytest.raises(NoQuorum):
        mr.set("k", "v3")
