"""Argument checks and state errors of Lock that need no server (clients are never connected)."""

from __future__ import annotations

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from majorityredis import LockNotOwned, MajorityRedis


@pytest.fixture
def mr():
    clients = [redis.Redis(port=port, retry=Retry(NoBackoff(), 0)) for port in (1, 2, 3)]
    with MajorityRedis(clients, timeout=0.2) as instance:
        yield instance


@pytest.mark.parametrize("ttl", [0, -1.0, 0.0001])
def test_ttl_must_be_positive_and_at_least_a_millisecond(mr, ttl):
    with pytest.raises(ValueError, match="ttl"):
        mr.lock("L", ttl=ttl)


@pytest.mark.parametrize("kwargs", [
    {"drift_factor": -0.1}, {"drift_ms": -1}, {"retry_delay": (0.2, 0.1)}, {"retry_delay": (-1, 0)},
    {"timeout": -1}, {"ttl": 0.001, "drift_ms": 2},   # the drift would eat the whole ttl
])
def test_bad_options_raise_value_error(mr, kwargs):
    with pytest.raises(ValueError):
        mr.lock("L", **{"ttl": 5.0, **kwargs})


def test_empty_name_raises_value_error(mr):
    with pytest.raises(ValueError, match="name"):
        mr.lock("", ttl=1.0)


def test_unheld_lock_has_no_token_no_validity_and_cannot_be_released_or_extended(mr):
    lock = mr.lock("L", ttl=1.0)
    assert lock.validity() == 0.0
    assert not lock.locked()
    with pytest.raises(LockNotOwned):
        _ = lock.token
    with pytest.raises(LockNotOwned):
        lock.release()
    with pytest.raises(LockNotOwned):
        lock.extend()
    with pytest.raises(ValueError):
        lock.extend(ttl=0)
    with pytest.raises(ValueError):
        lock.acquire(timeout=-1)
