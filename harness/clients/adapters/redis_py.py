"""Adapter of redis-py's `redis.lock.Lock` on one node (n1, the first URL).

SET NX PX on one server; `acquire(blocking=False)` returns a bool, no validity (holds
are judged by the ttl); `extend(ttl, replace_ttl=True)` sets the TTL to ttl;
LockNotOwnedError from extend/release is a refusal. thread_local=False: the token is
the instance's, whatever thread calls.
"""

from __future__ import annotations

from typing import Any

from protocol import reply, serve
from redis_clients import redis_client


class RedisPyLockAdapter:
    def __init__(self, urls: list[str], socket_timeout: float) -> None:
        self.client = redis_client(urls[0], socket_timeout)
        self.held: dict[str, Any] = {}

    def acquire(self, name: str, ttl: float) -> dict[str, Any]:
        lock = self.client.lock(name, timeout=ttl, thread_local=False)
        if not lock.acquire(blocking=False):
            return reply("refused")
        self.held[name] = lock
        return reply("ok")

    def extend(self, name: str, ttl: float) -> dict[str, Any]:
        from redis.exceptions import LockNotOwnedError

        lock = self.held.get(name)
        if lock is None:
            return reply("refused", error="not held by this client")
        try:
            lock.extend(ttl, replace_ttl=True)
        except LockNotOwnedError as error:
            return reply("refused", error=type(error).__name__)
        return reply("ok")

    def release(self, name: str) -> dict[str, Any]:
        from redis.exceptions import LockNotOwnedError

        lock = self.held.pop(name, None)
        if lock is None:
            return reply("refused", error="not held by this client")
        try:
            lock.release()
        except LockNotOwnedError as error:
            return reply("refused", error=type(error).__name__)
        return reply("ok")

    def close(self) -> None:
        self.client.close()


if __name__ == "__main__":
    serve("redis", RedisPyLockAdapter)
