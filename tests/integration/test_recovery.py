"""Real nodes restarted empty mid-hold: they abstain until safe (majorityredis.admission)."""

from __future__ import annotations

import time

import pytest

from majorityredis import MajorityRedis
from majorityredis.admission import ADMITTED_KEY, RECOVERY_KEY
from majorityredis.fanout import Command
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

MAX_TTL = 1.5


def connect(nodes, **kwargs) -> MajorityRedis:
    mr = MajorityRedis.from_urls(nodes.urls, socket_timeout=0.5, **kwargs)
    mr.fanout.call(Command(("PING",)))  # one connection per node up front
    return mr


def test_a_majority_restarted_empty_mid_hold_abstains_until_the_hold_expired(redis3):
    with connect(redis3, max_ttl=MAX_TTL) as first, connect(redis3, max_ttl=MAX_TTL) as second:
        holder = first.lock("L", ttl=MAX_TTL)
        assert holder.acquire()
        token = holder.token
        for server in redis3.servers[:2]:
            server.restart(empty=True)
        assert redis3.direct(0).exists("L", ADMITTED_KEY) == 0  # the fault happened
        second.fanout.call(Command(("PING",)))  # reconnected to the restarted nodes
        other = second.lock("L", ttl=MAX_TTL)
        assert not other.acquire(blocking=False)  # the restarted nodes abstain, the third refuses
        assert "abstained" in str(other.last_failure)
        assert holder.validity() > 0  # ... while the first hold was still valid
        for i in range(2):
            assert 0 < redis3.direct(i).pttl(RECOVERY_KEY) <= MAX_TTL * 1000  # the period, on the node
        while holder.validity() > 0:
            assert not other.acquire(blocking=False)
            time.sleep(0.05)
        assert other.acquire(timeout=MAX_TTL + 3.0)  # recovery over: admitted, vote again
        assert other.token > token
        assert all(redis3.direct(i).exists(ADMITTED_KEY) for i in range(3))
        other.release()


def test_without_recovery_the_same_restart_gives_two_holders(redis3):
    """What the protection prevents: recovery=False, the restarted majority votes at once."""
    with connect(redis3, recovery=False) as first, connect(redis3, recovery=False) as second:
        holder = first.lock("L", ttl=5.0)
        assert holder.acquire()
        for server in redis3.servers[:2]:
            server.restart(empty=True)
        other = second.lock("L", ttl=5.0)
        assert other.acquire(timeout=1.0)
        assert holder.validity() > 0 and other.validity() > 0  # two holders at once


def test_a_brand_new_cluster_waits_one_recovery_period_or_is_bootstrapped(redis_nodes):
    fresh = redis_nodes(3, bootstrap=False)
    with connect(fresh, max_ttl=MAX_TTL) as mr:
        lock = mr.lock("L", ttl=1.0)
        assert not lock.acquire(blocking=False)  # every node abstains: first contact starts recovery
        assert all(fresh.direct(i).exists(RECOVERY_KEY) for i in range(3))
        assert lock.acquire(timeout=MAX_TTL + 3.0)
        lock.release()
    other = redis_nodes(3, bootstrap=False)
    with connect(other, max_ttl=MAX_TTL) as mr:
        assert mr.bootstrap_new_cluster() == [mr.node_label(i) for i in range(3)]
        lock = mr.lock("L", ttl=1.0)
        assert lock.acquire(blocking=False)
        lock.release()
        mr.set("k", "v")  # the register is admitted too
        assert mr.get("k") == b"v"


def test_a_new_cluster_register_is_synced_once_every_node_answers(redis_nodes):
    fresh = redis_nodes(3, bootstrap=False)
    with connect(fresh) as mr:
        assert sorted(mr.resync()) == sorted(mr.node_label(i) for i in range(3))
        mr.set("k", "v")
        assert mr.get("k") == b"v"


def test_holds_longer_than_max_ttl_are_refused(redis3):
    with connect(redis3, max_ttl=2.0) as mr:
        with pytest.raises(ValueError, match="max_ttl"):
            mr.lock("L", ttl=2.5)
        lock = mr.lock("L", ttl=2.0)
        with pytest.raises(ValueError, match="max_ttl"):
            lock.extend(3.0)
        with pytest.raises(ValueError, match="max_ttl"):
            mr.queue("Q").get(ttl=2.5)
    with connect(redis3, recovery=False) as mr:
        mr.lock("L", ttl=600.0)  # recovery off: no bound


def test_a_queue_hold_is_not_granted_by_a_restarted_majority(redis3):
    with connect(redis3, max_ttl=MAX_TTL) as mr:
        queue = mr.queue("Q")
        queue.put(b"job")
        held = queue.get(ttl=MAX_TTL)
        assert held is not None
        for server in redis3.servers[:2]:
            server.restart(empty=True)
        queue.put(b"job2")  # stored (puts need no admission), but no hold can be granted yet
        assert queue.get(ttl=MAX_TTL) is None
        wait_until(lambda: queue.get(ttl=MAX_TTL) is not None, timeout=MAX_TTL + 5.0)
