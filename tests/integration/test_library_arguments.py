"""What the argument checks protect, against real redis-server nodes: one lock name is one
fencing counter whether given as str or bytes, and a queue item too large for the timeout
is refused by put and skipped (named in the log) by get instead of failing every get."""

from __future__ import annotations

import logging

import pytest

from majorityredis import MajorityRedis

pytestmark = pytest.mark.integration


def test_str_and_bytes_lock_names_share_one_fencing_counter(redis5) -> None:  # type: ignore[no-untyped-def]
    with MajorityRedis.from_urls(redis5.urls, socket_timeout=1.0) as mr:
        tokens = []
        for name in ["bb"] * 5 + [b"bb", "bb", b"bb"]:
            lock = mr.lock(name, ttl=5.0)
            assert lock.acquire(timeout=5.0)
            tokens.append(lock.token)
            lock.release()
    assert tokens == list(range(1, 9))  # the b"bb" acquisitions continue the count (was: token 1 again)
    for node in range(5):  # one counter, no second b"b'bb':fence" (the mr:* keys are the nodes' admission)
        keys = sorted(key for key in redis5.direct(node).keys("*") if not key.startswith(b"mr:"))
        assert keys == [b"bb:fence"]


def test_an_item_too_large_for_the_timeout_is_refused_by_put_and_skipped_by_get(
        redis3, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    big = b"x" * 4_000_000
    with MajorityRedis.from_urls(redis3.urls, socket_timeout=0.2) as fast, \
            MajorityRedis.from_urls(redis3.urls, socket_timeout=5.0) as patient:
        queue = fast.queue("jobs")
        assert queue.max_item_size < len(big)
        with pytest.raises(ValueError, match="max_item_size"):
            queue.put(big)
        assert queue.size() == 0  # refused before anything was sent
        # a producer with a long timeout can store it; the short-timeout consumer must not choke on it
        producer = patient.queue("jobs")
        assert producer.max_item_size > len(big)
        big_id = producer.put(big, priority=5)  # the best item: every get meets it first
        small_id = producer.put(b"small")
        with caplog.at_level(logging.WARNING, logger="majorityredis"):
            message = queue.get(ttl=2.0)
        assert message is not None and (message.id, message.item) == (small_id, b"small")
        assert f"skipping item {big_id}: 4000000 bytes, more than max_item_size" in caplog.text
        assert queue.consume(message)
        # it is still there, and not held: a consumer that can carry it gets it
        got = producer.get(ttl=5.0)
        assert got is not None and got.id == big_id and got.item == big
        assert producer.consume(got)
