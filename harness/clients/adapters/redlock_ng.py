"""Adapter of `redlock-ng` (Redlock, one node after the other, validity reported).

`acquire(resource, ttl_ms)` returns a Lock with `validity` (ms) or None; node errors are
swallowed (a refusal cannot tell them apart). `extend(lock, ttl_ms)` sets the TTL to
ttl_ms on a quorum (replaces it) and returns a bool, without a validity. One attempt per
acquire (retry_count=0). Its own clients are replaced by ones without retries.
"""

from __future__ import annotations

from typing import Any

from protocol import reply, serve
from redis_clients import redis_client


class RedlockNgAdapter:
    def __init__(self, urls: list[str], socket_timeout: float) -> None:
        from redlock import Redlock
        from redlock.client import RedlockConfig

        config = RedlockConfig(masters=urls, socket_timeout=socket_timeout,
                               socket_connect_timeout=socket_timeout)
        self.redlock = Redlock(config, retry_count=0)
        self.redlock.client.instances = [redis_client(url, socket_timeout) for url in urls]
        self.held: dict[str, Any] = {}

    def acquire(self, name: str, ttl: float) -> dict[str, Any]:
        lock = self.redlock.acquire(name, int(ttl * 1000), blocking=False)
        if lock is None:
            return reply("refused")
        self.held[name] = lock
        return reply("ok", validity=lock.validity / 1000.0)

    def extend(self, name: str, ttl: float) -> dict[str, Any]:
        lock = self.held.get(name)
        if lock is None:
            return reply("refused", error="not held by this client")
        if not self.redlock.extend(lock, int(ttl * 1000)):
            return reply("refused")
        return reply("ok")

    def release(self, name: str) -> dict[str, Any]:
        lock = self.held.pop(name, None)
        if lock is None:
            return reply("refused", error="not held by this client")
        self.redlock.release(lock)
        return reply("ok")

    def close(self) -> None:
        for instance in self.redlock.client.instances:
            instance.close()


if __name__ == "__main__":
    serve("redlock-ng", RedlockNgAdapter)
