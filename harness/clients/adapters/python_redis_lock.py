"""Adapter of `python-redis-lock` (`redis_lock.Lock`) on one node (n1, the first URL).

expire = the ttl, which the library cuts to whole seconds (int(ttl)); auto_renewal=True
(a thread renews every 2/3 of expire, until release — a client pause stops it too).
`acquire(blocking=False)` returns a bool, no validity (holds are judged by the
requested ttl); NotAcquired from extend/release is a refusal.
"""

from __future__ import annotations

from typing import Any

from protocol import reply, serve
from redis_clients import redis_client


class PythonRedisLockAdapter:
    def __init__(self, urls: list[str], socket_timeout: float) -> None:
        import redis_lock  # noqa: F401 - fail at start when the library is broken

        self.client = redis_client(urls[0], socket_timeout)
        self.held: dict[str, Any] = {}

    def acquire(self, name: str, ttl: float) -> dict[str, Any]:
        import redis_lock

        lock = redis_lock.Lock(self.client, name, expire=ttl, auto_renewal=True)
        if not lock.acquire(blocking=False):
            return reply("refused")
        self.held[name] = lock
        return reply("ok")

    def extend(self, name: str, ttl: float) -> dict[str, Any]:
        import redis_lock

        lock = self.held.get(name)
        if lock is None:
            return reply("refused", error="not held by this client")
        try:
            lock.extend(expire=ttl)
        except redis_lock.NotAcquired as error:
            return reply("refused", error=type(error).__name__)
        return reply("ok")

    def release(self, name: str) -> dict[str, Any]:
        import redis_lock

        lock = self.held.pop(name, None)
        if lock is None:
            return reply("refused", error="not held by this client")
        try:
            lock.release()
        except redis_lock.NotAcquired as error:
            return reply("refused", error=type(error).__name__)
        return reply("ok")

    def close(self) -> None:
        for lock in self.held.values():
            try:
                lock._stop_lock_renewer()
            except Exception:  # noqa: BLE001
                pass
        self.client.close()


if __name__ == "__main__":
    serve("python-redis-lock", PythonRedisLockAdapter)
