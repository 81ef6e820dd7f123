"""Adapter of `redlock-py` (Redlock, one node after the other, validity from the wall clock).

`lock(resource, ttl_ms)` returns Lock(validity_ms, resource, key) or False; after a
quorum it raises MultipleRedlockException when some server errored — without releasing
(recorded "unknown": the lock is held). One attempt per acquire (retry_count=1). It has
no extend.
"""

from __future__ import annotations

from typing import Any

from protocol import reply, serve
from redis_clients import redis_client


class RedlockPyAdapter:
    def __init__(self, urls: list[str], socket_timeout: float) -> None:
        from redlock import Redlock

        self.servers = [redis_client(url, socket_timeout) for url in urls]
        self.dlm = Redlock(self.servers, retry_count=1, retry_delay=0.001)
        self.held: dict[str, Any] = {}

    def acquire(self, name: str, ttl: float) -> dict[str, Any]:
        lock = self.dlm.lock(name, int(ttl * 1000))
        if not lock:
            return reply("refused")
        self.held[name] = lock
        return reply("ok", validity=lock.validity / 1000.0)

    def extend(self, name: str, ttl: float) -> dict[str, Any]:
        return reply("unsupported")

    def release(self, name: str) -> dict[str, Any]:
        lock = self.held.pop(name, None)
        if lock is None:
            return reply("refused", error="not held by this client")
        self.dlm.unlock(lock)  # raises MultipleRedlockException on errors -> unknown
        return reply("ok")

    def close(self) -> None:
        for server in self.servers:
            server.close()


if __name__ == "__main__":
    serve("redlock-py", RedlockPyAdapter)
