"""Adapter of `aioredlock` (Redlock on asyncio over aioredis 1.x, with auto-extension).

The library runs on an event loop in a thread of its own (its auto-extend watchdogs
and background cleanups need a loop that keeps running between calls); each call is
submitted to it and waited for under a deadline, because aioredis 1.x has a connect
timeout but no command timeout. `lock(name)` without lock_timeout auto-extends every
0.6 x internal_lock_timeout (= the requested ttl); it reports no validity (holds are
judged by the ttl). LockAcquiringError alone is a refusal; a LockRuntimeError (a node
errored) or a deadline is "unknown".
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from protocol import parse_url, reply, serve, unknown


class AioredlockAdapter:
    def __init__(self, urls: list[str], socket_timeout: float) -> None:
        import aioredlock  # noqa: F401 - fail at start when the library is broken

        self.connections = []
        for url in urls:
            where = parse_url(url)
            connection = {"host": where["host"], "port": where["port"], "db": where["db"],
                          "timeout": socket_timeout}  # aioredis 1.x: connect timeout
            if where["password"]:
                connection["password"] = where["password"]
            self.connections.append(connection)
        # the library sends to every node at once: one round trip, plus its cleanup
        self.deadline = 4 * socket_timeout + 0.5
        self.managers: dict[float, Any] = {}
        self.held: dict[str, Any] = {}
        logging.getLogger("aioredlock").setLevel(logging.CRITICAL)  # errors are replies here
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="aioredlock-loop", daemon=True)
        self.thread.start()

    def _run(self, coroutine: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(coroutine, self.deadline), self.loop)
        return future.result()

    def _manager(self, ttl: float) -> Any:
        if ttl not in self.managers:
            from aioredlock import Aioredlock

            async def make() -> Any:
                return Aioredlock(redis_connections=self.connections, retry_count=1,
                                  internal_lock_timeout=ttl)

            self.managers[ttl] = self._run(make())
        return self.managers[ttl]

    def _call(self, coroutine: Any) -> dict[str, Any] | None:
        """None when the call succeeded, else the reply of its failure."""
        from aioredlock import LockAcquiringError, LockError

        try:
            self._run(coroutine)
        except LockAcquiringError as error:
            return reply("refused", error=type(error).__name__)
        except LockError as error:
            if isinstance(error.__cause__, LockAcquiringError) or str(error) == "Lock timeout":
                return reply("refused", error=str(error))
            return unknown(error)
        except (asyncio.TimeoutError, TimeoutError):
            return reply("unknown", error=f"TimeoutError: no answer within the {self.deadline:g}s deadline")
        return None

    def acquire(self, name: str, ttl: float) -> dict[str, Any]:
        manager = self._manager(ttl)
        taken: list[Any] = []

        async def lock() -> None:
            taken.append(await manager.lock(name))

        failure = self._call(lock())
        if failure is not None:
            return failure
        self.held[name] = (manager, taken[0])
        return reply("ok")

    def extend(self, name: str, ttl: float) -> dict[str, Any]:
        if name not in self.held:
            return reply("refused", error="not held by this client")
        manager, lock = self.held[name]
        if not lock.valid:
            return reply("refused", error="lock no longer valid")
        return self._call(manager.extend(lock)) or reply("ok")

    def release(self, name: str) -> dict[str, Any]:
        if name not in self.held:
            return reply("refused", error="not held by this client")
        manager, lock = self.held.pop(name)
        return self._call(manager.unlock(lock)) or reply("ok")

    def close(self) -> None:
        for manager in self.managers.values():
            try:
                self._run(manager.destroy())
            except Exception:  # noqa: BLE001 - closing must not hide anything
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)


if __name__ == "__main__":
    serve("aioredlock", AioredlockAdapter)
