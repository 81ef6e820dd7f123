"""The library rejects what it cannot do right, before any I/O (majorityredis.arguments).

The clients point at ports nothing listens on: a call that reached the network would end
in NoQuorum or False, never in the TypeError / ValueError these tests expect.
"""

from __future__ import annotations

import math

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from majorityredis import MajorityRedis
from majorityredis.arguments import default_max_item_size

NAN, INF = math.nan, math.inf
URLS = [f"redis://127.0.0.1:{port}/0" for port in (1, 2, 3)]


@pytest.fixture
def mr():
    with MajorityRedis.from_urls(URLS, socket_timeout=0.2) as instance:
        yield instance


# -- NaN and infinities -------------------------------------------------------------------

@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_non_finite_client_timeouts_are_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="socket_timeout must be a finite number"):
        MajorityRedis.from_urls(URLS, socket_timeout=bad)
    with pytest.raises(ValueError, match="timeout must be a finite number"):
        MajorityRedis.from_urls(URLS, timeout=bad)
    clients = [redis.Redis(port=p, retry=Retry(NoBackoff(), 0)) for p in (1, 2, 3)]
    with pytest.raises(ValueError, match="timeout must be a finite number"):
        MajorityRedis(clients, timeout=bad)


@pytest.mark.parametrize("kwargs", [{"ttl": NAN}, {"ttl": INF}, {"timeout": NAN}, {"drift_factor": NAN},
                                    {"drift_ms": INF}, {"retry_delay": (0.1, INF)}])
def test_non_finite_lock_options_are_rejected(mr, kwargs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="must be a finite number"):
        mr.lock("L", **{"ttl": 5.0, **kwargs})


@pytest.mark.parametrize("bad", [NAN, INF])
def test_acquire_and_extend_reject_non_finite_numbers(mr, bad: float) -> None:  # type: ignore[no-untyped-def]
    lock = mr.lock("L", ttl=5.0)
    with pytest.raises(ValueError, match="timeout must be a finite number"):
        lock.acquire(timeout=bad)  # NaN used to mean "never time out"
    with pytest.raises(ValueError, match="ttl must be a finite number"):
        lock.extend(ttl=bad)


@pytest.mark.parametrize("kwargs, name", [({"timeout": NAN}, "timeout"), ({"ttl": INF}, "ttl"),
                                          ({"ttl": NAN}, "ttl")])
def test_queue_get_rejects_non_finite_numbers(mr, kwargs, name) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=f"{name} must be a finite number"):
        mr.queue("q").get(**kwargs)


@pytest.mark.parametrize("kwargs", [{"retention": INF}, {"retry_delay": NAN}, {"drift_ms": NAN}])
def test_queue_options_reject_non_finite_numbers(mr, kwargs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="must be a finite number"):
        mr.queue("q", **kwargs)


def test_a_number_of_the_wrong_type_is_a_type_error(mr) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match="timeout must be a number"):
        mr.lock("L", ttl=5.0).acquire(timeout="2")
    with pytest.raises(TypeError, match="ttl must be a number"):
        mr.lock("L", ttl=True)


# -- duplicate servers ------------------------------------------------------------------------

@pytest.mark.parametrize("urls", [
    ["redis://127.0.0.1:7001/0", "redis://127.0.0.1:7001/0", "redis://127.0.0.1:7002/0"],
    ["redis://LOCALHOST:7001", "redis://localhost:7001/0", "redis://localhost:7002"],
    ["redis://127.0.0.1:7001/0", "redis://:pw@127.0.0.1:7001/0", "redis://127.0.0.1:7002/0"],
    ["unix:///tmp/r.sock?db=0", "unix:///tmp/r.sock", "redis://127.0.0.1:7002"],
])
def test_the_same_server_twice_is_rejected(urls: list[str]) -> None:
    with pytest.raises(ValueError, match="servers 0 and 1 are the same server"):
        MajorityRedis.from_urls(urls)


def test_the_same_client_object_twice_is_rejected() -> None:
    client = redis.Redis(port=7001)
    with pytest.raises(ValueError, match="same server"):
        MajorityRedis([client, client, redis.Redis(port=7002)])


def test_other_dbs_of_one_server_are_distinct() -> None:
    mr = MajorityRedis.from_urls([f"redis://127.0.0.1:7001/{db}" for db in range(3)])
    assert mr.n_servers == 3


# -- names and keys ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", [["x"], 5, None, 1.5, {"x": 1}])
def test_lock_and_queue_names_of_the_wrong_type(mr, name) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match="a lock name must be str"):
        mr.lock(name, ttl=5.0)
    with pytest.raises(TypeError, match="a queue name must be str"):
        mr.queue(name)


@pytest.mark.parametrize("key", [None, 5, ["k"], 1.5])
def test_register_keys_of_the_wrong_type(mr, key) -> None:  # type: ignore[no-untyped-def]
    for call in (lambda: mr.set(key, "v"), lambda: mr.get(key), lambda: mr.delete(key)):
        with pytest.raises(TypeError, match="a register key must be str or bytes"):
            call()


def test_bytes_names_are_the_same_name_as_str(mr) -> None:  # type: ignore[no-untyped-def]
    assert mr.lock(b"jobs", ttl=5.0).name == "jobs" == mr.lock("jobs", ttl=5.0).name
    assert mr.queue(b"q").keys == mr.queue("q").keys
    with pytest.raises(ValueError, match="must be UTF-8"):
        mr.lock(b"\xff\xfe", ttl=5.0)


# -- queue item size -------------------------------------------------------------------------------

def test_max_item_size_follows_the_timeout_and_the_servers(mr) -> None:  # type: ignore[no-untyped-def]
    assert mr.queue("q").max_item_size == default_max_item_size(0.2, 3) == 3_333_333
    assert default_max_item_size(0.5, 5) == 5_000_000


def test_put_of_an_item_larger_than_max_item_size_is_a_clear_error(mr) -> None:  # type: ignore[no-untyped-def]
    queue = mr.queue("q")
    with pytest.raises(ValueError, match=r"the item is 50000000 bytes, more than the queue's max_item_size"):
        queue.put(b"x" * 50_000_000)
    queue.max_item_size = 10
    with pytest.raises(ValueError, match="max_item_size of 10 bytes"):
        queue.put("eleven byte")
