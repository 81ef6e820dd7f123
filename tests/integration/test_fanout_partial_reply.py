"""A reply that is only half-arrived never blocks a fan-out call that can decide without it."""

from __future__ import annotations

import pytest

from majorityredis import MajorityRedis
from majorityredis.fanout import Command

pytestmark = pytest.mark.integration


def test_a_trickling_reply_does_not_block_the_decision(proxied_redis3):
    big = b"x" * 200_000
    for client in proxied_redis3.nodes.clients():
        client.set("big", big)
    control = proxied_redis3.control
    # node 0 answers at once but trickles (10 KB/s: 20 s for the whole reply);
    # nodes 1 and 2 answer whole, 50 ms later
    control.add_toxic("n1", "bandwidth", attributes={"rate": 10})
    control.add_toxic("n2", "latency", attributes={"latency": 50, "jitter": 0})
    control.add_toxic("n3", "latency", attributes={"latency": 50, "jitter": 0})
    mr = MajorityRedis(proxied_redis3.clients(socket_timeout=5.0), timeout=5.0)
    try:
        replies = mr.fanout.call(Command(("GET", "big")), done=lambda r: r.count(lambda v: v == big) >= 2)
    finally:
        mr.close()
    # decided by nodes 1 and 2 while node 0's reply was still arriving: node 0 neither
    # answered nor timed out (a blocking read of its partial reply would have made it an error)
    assert replies.values == {1: big, 2: big}
