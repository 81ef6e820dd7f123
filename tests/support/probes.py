"""Small probes the integration tests use to show a fault or a cleanup really happened."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting to be reaped counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def client(url: str, timeout: float = 0.4) -> redis.Redis:
    """A redis-py client that neither retries nor waits longer than `timeout`."""
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                retry=Retry(NoBackoff(), 0))


def ping_outcome(url: str, timeout: float = 0.4) -> str:
    """"ok", "timeout" (a cut link drops data) or "error" (refused, reset) for a PING on a fresh connection."""
    conn = client(url, timeout)
    try:
        conn.ping()
        return "ok"
    except redis.TimeoutError:
        return "timeout"
    except redis.ConnectionError:
        return "error"
    finally:
        conn.close()
