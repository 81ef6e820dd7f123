"""Our own `majorityredis`, driven in-process through the LockClient interface.

Runs in the harness's interpreter (its client threads share the workload's
MajorityRedis, `mr`, whose clock `valid_until` is read on: the runtime's, so the
in-process client runs in simulation too); a client pause is the worker thread sleeping, which stops all of
this client's activity because the library does nothing in the background.
"""

from __future__ import annotations

from typing import Any

from harness.clients.base import Attempt, LockClient
from harness.clients.specs import ClientSpec
from harness.workload.base import error_text


class InProcessMajorityRedis(LockClient):
    def __init__(self, spec: ClientSpec, mr: Any, lock_options: dict[str, Any] | None = None) -> None:
        self.spec = spec
        self.mr = mr
        self.lock_options = dict(lock_options or {})  # e.g. the scenario's drift_factor, drift_ms
        self.held: dict[str, Any] = {}

    def acquire(self, name: str, ttl: float) -> Attempt:
        lock = self.mr.lock(name, ttl=ttl, **self.lock_options)
        try:
            acquired = lock.acquire(blocking=False)
        except Exception as error:  # noqa: BLE001 - NoQuorum, timeouts: unknown outcome
            return Attempt("unknown", error=error_text(error))
        if not acquired:
            if _outcome_unknown(lock):
                return Attempt("unknown", error=error_text(lock.last_failure))
            return Attempt("refused")
        self.held[name] = lock
        return Attempt("ok", token=int(lock.token), valid_until=self.mr.clock() + lock.validity())

    def extend(self, name: str, ttl: float) -> Attempt:
        lock = self.held.get(name)
        if lock is None:
            return Attempt("refused", error="not held by this client")
        try:
            extended = lock.extend()
        except Exception as error:  # noqa: BLE001
            return Attempt("refused" if _is_not_owned(error) else "unknown", error=error_text(error))
        if not extended:
            return Attempt("refused")
        return Attempt("ok", token=int(lock.token), valid_until=self.mr.clock() + lock.validity())

    def release(self, name: str) -> Attempt:
        lock = self.held.pop(name, None)
        if lock is None:
            return Attempt("refused", error="not held by this client")
        try:
            lock.release()
        except Exception as error:  # noqa: BLE001
            return Attempt("refused" if _is_not_owned(error) else "unknown", error=error_text(error))
        return Attempt("ok")

    def describe(self) -> dict[str, Any]:
        from importlib.metadata import PackageNotFoundError, version

        described = super().describe()
        try:
            described["version"] = version("majorityredis")
        except PackageNotFoundError:  # pragma: no cover - run from a checkout without install
            pass
        return described


def _outcome_unknown(lock: Any) -> bool:
    """A failed attempt is *certainly* not acquired only if every node answered (refused);
    a node that timed out or errored may have granted (the undo may not have reached it)."""
    failure = getattr(lock, "last_failure", None)
    errors = getattr(failure, "errors", None) or {}
    return any(isinstance(error, BaseException) for error in errors.values())


def _is_not_owned(error: BaseException) -> bool:
    from majorityredis import LockNotOwned

    return isinstance(error, LockNotOwned)
