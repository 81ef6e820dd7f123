"""TLS end to end: `rediss://` URLs reach TLS-only redis-servers, and the fan-out's TLS paths hold.

The fan-out reads replies itself (majorityredis.resp) and takes a different
branch for TLS sockets (`sendall`/`recv` through the SSL layer, decrypted
bytes that `poll` cannot see); these tests drive it against real servers
started with `--tls-port` only, so a plain connection is refused.
"""

from __future__ import annotations

import pytest
import redis
from redis.connection import SSLConnection

from majorityredis import MajorityRedis
from majorityredis.fanout import Command
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def tls3(redis_nodes, tls_files):  # type: ignore[no-untyped-def]
    return redis_nodes(3, tls=tls_files)


def _tls_client(tls3, tls_files, socket_timeout: float = 1.0) -> MajorityRedis:  # type: ignore[no-untyped-def]
    return MajorityRedis.from_urls(tls3.urls, socket_timeout=socket_timeout, ssl_ca_certs=str(tls_files.ca))


def test_the_servers_speak_only_tls(tls3):
    assert all(url.startswith("rediss://") for url in tls3.urls)
    plain = redis.Redis(host=tls3.servers[0].host, port=tls3.servers[0].port, socket_timeout=0.5,
                        socket_connect_timeout=0.5)
    with pytest.raises(redis.ConnectionError):
        plain.ping()
    plain.close()
    assert tls3.direct(0).ping()  # the fixture's client is a TLS client


def test_lock_queue_and_register_over_tls(tls3, tls_files):
    with _tls_client(tls3, tls_files) as mr:
        assert all(c.connection_pool.connection_class is SSLConnection for c in mr.clients)
        lock = mr.lock("tls:lock", ttl=5.0)
        tokens = []
        for _ in range(3):
            assert lock.acquire(blocking=False)
            tokens.append(lock.token)
            assert lock.extend()
            lock.release()
        assert tokens == sorted(set(tokens))

        q = mr.queue("tls:q")
        item_id = q.put(b"payload")
        msg = q.get(ttl=5.0)
        assert msg is not None and msg.id == item_id and msg.item == b"payload"
        assert q.consume(msg) and q.size() == 0

        mr.set("tls:k", "v1")
        assert mr.get("tls:k") == b"v1"
    # the writes really landed on the servers, read back over TLS by another client
    assert sum(tls3.direct(i).hget("mr:reg:tls:k", "v") == b"v1" for i in range(3)) >= 2


def test_replies_larger_than_one_tls_record_arrive_whole(tls3, tls_files):
    """TLS records carry at most 16 KiB: a 300 KB reply arrives in many pieces, read as they come."""
    big = bytes(range(256)) * 1200  # 307,200 bytes
    with _tls_client(tls3, tls_files) as mr:
        mr.set("tls:big", big)
        assert mr.get("tls:big") == big
        replies = mr.fanout.call(Command(("GET", "tls:raw")))
        assert replies.values == {0: None, 1: None, 2: None}
        tls3.direct(1).set("tls:raw", big)
        replies = mr.fanout.call(Command(("GET", "tls:raw")), done=lambda r: 1 in r.values)
        assert replies.values[1] == big


def test_a_late_tls_reply_is_drained_and_the_connection_reused(tls3, tls_files):
    paused = tls3.servers[2]
    with _tls_client(tls3, tls_files, socket_timeout=2.0) as mr:
        mr.fanout.call(Command(("PING",)))  # every node has a connected TLS connection now
        paused.pause()
        try:
            replies = mr.fanout.call(Command(("INCR", "tls:n")), done=lambda r: len(r.values) >= 2)
            assert paused.paused and set(replies.values) == {0, 1}
            owed = [item.conn for item in mr.fanout._parked[2]]
            assert len(owed) == 1  # the paused node's TLS connection owes the INCR reply
        finally:
            paused.resume()
        wait_until(lambda: tls3.direct(2).get("tls:n") == b"1", 5.0)  # the paused INCR ran after resume
        replies = mr.fanout.call(Command(("GET", "tls:n")))
        assert replies.values == {0: b"1", 1: b"1", 2: b"1"}  # in step: not the late INCR reply (1 as int)
        # drained, then reused
        assert mr.fanout._parked[2] == [] and owed[0] in [line.conn for line in mr.fanout._idle[2]]
