"""Adapter of pottery's `Redlock` (Redlock over N masters, requests sent concurrently,
validity from a monotonic clock).

`acquire(blocking=False)` returns a bool and no validity (holds are judged by the
requested ttl); `extend()` raises ExtendUnlockedLock (or TooManyExtensions), `release()`
ReleaseUnlockedLock. pottery swallows Redis errors and logs them: a handler on its
logger counts them, so a refusal that met errors is "unknown" (an errored node may hold it).
"""

from __future__ import annotations

import logging
from typing import Any

from protocol import reply, serve, unknown
from redis_clients import redis_client


class _ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


class PotteryAdapter:
    def __init__(self, urls: list[str], socket_timeout: float) -> None:
        from pottery import Redlock  # noqa: F401 - fail at start when the library is broken

        self.masters = [redis_client(url, socket_timeout) for url in urls]
        self.held: dict[str, Any] = {}
        self.errors = _ErrorCounter()
        logger = logging.getLogger("pottery")
        logger.addHandler(self.errors)
        logger.propagate = False  # its tracebacks would flood the worker's stderr

    def _refused(self, error: BaseException | None = None) -> dict[str, Any]:
        if self.errors.count:
            return reply("unknown", error=f"{self.errors.count} Redis error(s) during the call")
        return reply("refused", error=None if error is None else type(error).__name__)

    def acquire(self, name: str, ttl: float) -> dict[str, Any]:
        from pottery import Redlock

        self.errors.count = 0
        lock = Redlock(key=name, masters=self.masters, auto_release_time=ttl)
        if not lock.acquire(blocking=False):
            return self._refused()
        self.held[name] = lock
        return reply("ok")

    def extend(self, name: str, ttl: float) -> dict[str, Any]:
        from pottery.exceptions import ExtendUnlockedLock, TooManyExtensions

        self.errors.count = 0
        lock = self.held.get(name)
        if lock is None:
            return reply("refused", error="not held by this client")
        try:
            lock.extend()
        except (ExtendUnlockedLock, TooManyExtensions) as error:
            return self._refused(error)
        return reply("ok")

    def release(self, name: str) -> dict[str, Any]:
        from pottery.exceptions import ReleaseUnlockedLock

        self.errors.count = 0
        lock = self.held.pop(name, None)
        if lock is None:
            return reply("refused", error="not held by this client")
        try:
            lock.release()
        except ReleaseUnlockedLock as error:
            return self._refused(error)
        except Exception as error:  # noqa: BLE001
            return unknown(error)
        return reply("ok")

    def close(self) -> None:
        for master in self.masters:
            master.close()


if __name__ == "__main__":
    serve("pottery", PotteryAdapter)
