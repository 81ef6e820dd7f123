"""Small probes the integration tests use to show a fault or a cleanup really happened."""

from __future__ import annotations

import threading
from typing import Any

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


class RecordingFanout:
    """Wraps a MajorityRedis's fan-out and keeps the replies of every call (thread-safe), so a
    fault test can show that an operation met the fault: `errors_from(node)` are the exceptions
    that node answered with."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.replies: list[Any] = []
        self._lock = threading.Lock()

    @classmethod
    def install(cls, mr: Any) -> RecordingFanout:
        """Wrap `mr.fanout` in place and return the wrapper."""
        recorder = cls(mr.fanout)
        mr.fanout = recorder
        return recorder

    def call(self, *args: Any, **kwargs: Any) -> Any:
        replies = self.inner.call(*args, **kwargs)
        with self._lock:
            self.replies.append(replies)
        return replies

    def errors_from(self, node: int) -> list[BaseException]:
        with self._lock:
            return [r.values[node] for r in self.replies if isinstance(r.values.get(node), BaseException)]

    def answered_by(self, node: int) -> int:
        """How many calls got a value (not an exception) from `node`."""
        return len(self.values_from(node))

    def values_from(self, node: int) -> list[Any]:
        """The values (not exceptions) `node` answered, call after call."""
        with self._lock:
            return [r.values[node] for r in self.replies
                    if node in r.values and not isinstance(r.values[node], BaseException)]

    def __getattr__(self, attribute: str) -> Any:  # close() and the rest: the real fan-out's
        return getattr(self.inner, attribute)
