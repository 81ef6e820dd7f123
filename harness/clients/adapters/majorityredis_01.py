"""Adapter of `majorityredis==0.1` (2015), the original this repository grows from.

Its Lock SETNXes the key on every node with EXPIREAT at int(wall clock + lock_timeout)
and succeeds on a majority; `lock()` returns that expiry (seconds since the epoch) or
False, `extend_lock()` the new expiry or False, `unlock()` the share of nodes unlocked.
Node errors are swallowed; the adapter sees them through the `map_async` hook the
library accepts, so a False with errors is "unknown" (an errored node may hold it).
Background extension is off (the workload extends explicitly); one MajorityRedis per
ttl (lock_timeout is per instance) with threadsafe=True, so this worker's locks have
their own client id.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from protocol import reply, serve
from redis_clients import redis_client


class MajorityRedis01Adapter:
    def __init__(self, urls: list[str], socket_timeout: float) -> None:
        self.clients = [redis_client(url, socket_timeout) for url in urls]
        self.socket_timeout = socket_timeout
        self.pool = ThreadPoolExecutor(max_workers=max(4, 2 * len(urls)))
        self.locks: dict[float, Any] = {}
        self.held: dict[str, Any] = {}  # lock name -> the Lock object (client id) that took it
        self.errors = 0

    def _map(self, func: Any, *iterables: Any) -> Any:
        results = list(self.pool.map(func, *iterables))
        self.errors += sum(1 for result in results
                           if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], Exception))
        return iter(results)

    def _lock(self, ttl: float) -> Any:
        if ttl not in self.locks:
            from majorityredis import MajorityRedis

            # polling_interval must exceed the socket timeout and not exceed lock_timeout
            polling = min(ttl, 2 * self.socket_timeout)
            mr = MajorityRedis(self.clients, len(self.clients), lock_timeout=ttl, polling_interval=polling,
                               map_async=self._map, threadsafe=True)
            self.locks[ttl] = mr.Lock()
        return self.locks[ttl]

    def _failed(self) -> dict[str, Any]:
        if self.errors:
            return reply("unknown", error=f"{self.errors} node(s) answered with an error")
        return reply("refused")

    def acquire(self, name: str, ttl: float) -> dict[str, Any]:
        self.errors = 0
        lock = self._lock(ttl)
        expireat = lock.lock(name, extend_lock=False)
        if not expireat:
            return self._failed()
        self.held[name] = lock
        return reply("ok", validity=expireat - time.time())

    def extend(self, name: str, ttl: float) -> dict[str, Any]:
        self.errors = 0
        lock = self.held.get(name)
        if lock is None:
            return reply("refused", error="not held by this client")
        expireat = lock.extend_lock(name)
        if not expireat:
            return self._failed()
        return reply("ok", validity=expireat - time.time())

    def release(self, name: str) -> dict[str, Any]:
        self.errors = 0
        lock = self.held.pop(name, None)
        if lock is None:
            return reply("refused", error="not held by this client")
        lock.unlock(name)
        if self.errors:
            return reply("unknown", error=f"{self.errors} node(s) answered with an error")
        return reply("ok")

    def close(self) -> None:
        self.pool.shutdown(wait=False)


if __name__ == "__main__":
    serve("majorityredis", MajorityRedis01Adapter)
