"""The lock workload: clients acquire a majority lock, use a protected resource, release.

One cycle of a client (paced at `rate` cycles per second):
acquire (non-blocking) -> [sleep `pause` s: a GC pause] -> use (begin..commit at the
protected resource, `use_ms` long) -> [extend -> use again] -> release.

History (docs/design.md, "History contents per workload"): `acquire` ok
{"token", "validity_ms"} (validity measured just before recording, so conservative),
`use` invoke {"token", "resource"} ok {"token"} / fail {"token", "rejected", "highest"},
`extend` ok {"token", "validity_ms"}, `release` ok / fail (LockNotOwned: nothing held).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from harness.workload.base import (
    ClientContext,
    Pacer,
    ProcessHistory,
    Workload,
    WorkloadParams,
    error_text,
    hold_ttl,
    register_workload,
    run_with_library,
)
from harness.workload.resource import ProtectedResource


class LockParams(WorkloadParams):
    """`workload:` section of a lock scenario."""

    type: Literal["lock"]
    locks: int = Field(1, ge=1, le=100, description="number of lock names (lock0, lock1, ...)")
    ttl: Annotated[float, AfterValidator(hold_ttl)] = Field(5.0, gt=0, description="lock TTL in seconds")
    rate: float | None = Field(5.0, gt=0, description="acquire attempts per second per client (null: no pacing)")
    use_ms: int = Field(50, ge=0, description="how long one use of the protected resource lasts (ms)")
    pause: float = Field(0.0, ge=0, description="seconds a holder sleeps between acquire and use (GC pause)")
    pause_probability: float = Field(1.0, ge=0, le=1, description="chance that a cycle pauses (when pause > 0)")
    extend_probability: float = Field(0.0, ge=0, le=1, description="chance that a holder extends, then uses again")
    fenced: bool = Field(False, description="the resource rejects stale fencing tokens")
    drift_factor: float = Field(0.01, ge=0, lt=1, description=(
        "the lock's clock-drift allowance: validity = ttl - elapsed - (ttl * drift_factor + drift_ms)"))
    drift_ms: float = Field(2.0, ge=0, description="the constant part of the drift allowance (ms)")


@dataclass(frozen=True, slots=True)
class LockCycle:
    """What one client does in one cycle (decided by the seeded generator)."""

    key: str
    pause: float
    extend: bool


class LockGenerator:
    """Pure, seeded: the sequence of cycles of one client."""

    def __init__(self, params: LockParams, rng: random.Random) -> None:
        self.params = params
        self.rng = rng
        self.names = lock_names(params)

    def next_cycle(self) -> LockCycle:
        p = self.params
        key = self.names[0] if len(self.names) == 1 else self.rng.choice(self.names)
        pause = p.pause if p.pause > 0 and self.rng.random() < p.pause_probability else 0.0
        extend = p.extend_probability > 0 and self.rng.random() < p.extend_probability
        return LockCycle(key=key, pause=pause, extend=extend)


def lock_names(params: LockParams) -> list[str]:
    return [f"lock{i}" for i in range(params.locks)]


@register_workload
class LockWorkload(Workload):
    name = "lock"
    Params = LockParams
    default_checkers = ("mutex-graph", "fencing", "resource")

    def __init__(self, params: LockParams, *, seed: int, clients: int) -> None:  # type: ignore[override]
        super().__init__(params, seed=seed, clients=clients)
        self.params: LockParams = params
        # One resource per lock name, shared by every client (it is outside the cluster).
        self.resources = {key: ProtectedResource(f"resource-{key}", fenced=params.fenced)
                          for key in lock_names(params)}

    def validate_for(self, clients: int) -> str | None:
        from majorityredis.validity import drift_seconds

        drift = drift_seconds(self.params.ttl, self.params.drift_factor, self.params.drift_ms)
        if drift >= self.params.ttl:
            return (f"the drift allowance ({drift:g} s = ttl * drift_factor + drift_ms) must be shorter "
                    f"than the ttl ({self.params.ttl:g} s): no hold would ever be valid")
        return None

    def keys(self) -> list[str]:
        return lock_names(self.params)

    def run_client(self, ctx: ClientContext) -> None:
        generator = LockGenerator(self.params, ctx.rng)
        pacer = Pacer(self.params.rate, ctx.runtime.clock, phase=ctx.rng.random())

        def loop(mr: Any) -> None:
            while not ctx.wait(pacer.delay()):
                self.cycle(mr, ctx, generator.next_cycle())

        run_with_library(self, ctx, loop)

    # -- one cycle -------------------------------------------------------------
    def cycle(self, mr: Any, ctx: ClientContext, cycle: LockCycle) -> None:
        h, key = ctx.history, cycle.key
        lock = mr.lock(key, ttl=self.params.ttl, drift_factor=self.params.drift_factor,
                       drift_ms=self.params.drift_ms)
        token = self._acquire(lock, h, key)
        if token is None:
            return
        if cycle.pause:
            ctx.wait(cycle.pause)  # the stop event cuts a pause short; the hold is still used
        used = self._use(h, key, token, ctx)
        if used and cycle.extend and not ctx.stop.is_set():
            if self._extend(lock, h, key, token):
                self._use(h, key, token, ctx)
        self._release(lock, h, key, token)

    def _acquire(self, lock: Any, h: ProcessHistory, key: str) -> int | None:
        h.invoke("acquire", key)
        try:
            acquired = lock.acquire(blocking=False)
        except Exception as error:  # noqa: BLE001 - NoQuorum, timeouts: unknown outcome
            h.info("acquire", key, error=error_text(error))
            return None
        if not acquired:
            if _outcome_unknown(lock):
                h.info("acquire", key, error=error_text(lock.last_failure))
            else:
                h.fail("acquire", key)
            return None
        token = int(lock.token)
        h.ok("acquire", key, {"token": token, "validity_ms": _validity_ms(lock)})
        return token

    def _use(self, h: ProcessHistory, key: str, token: int, ctx: ClientContext) -> bool:
        resource = self.resources[key]
        return resource.use(
            token, self.params.use_ms / 1000.0, sleep=ctx.runtime.sleep,
            on_invoke=lambda: h.invoke("use", key, {"token": token, "resource": resource.name}),
            on_ok=lambda: h.ok("use", key, {"token": token}),
            on_reject=lambda highest: h.fail("use", key, {"token": token, "rejected": "stale token",
                                                          "highest": highest}))

    def _extend(self, lock: Any, h: ProcessHistory, key: str, token: int) -> bool:
        h.invoke("extend", key, {"token": token})
        try:
            extended = lock.extend()
        except Exception as error:  # noqa: BLE001
            if _is_not_owned(error):
                h.fail("extend", key, {"token": token})
            else:
                h.info("extend", key, {"token": token}, error=error_text(error))
            return False
        if not extended:
            h.fail("extend", key, {"token": token})
            return False
        h.ok("extend", key, {"token": token, "validity_ms": _validity_ms(lock)})
        return True

    def _release(self, lock: Any, h: ProcessHistory, key: str, token: int) -> None:
        h.invoke("release", key, {"token": token})
        try:
            lock.release()
        except Exception as error:  # noqa: BLE001
            if _is_not_owned(error):
                h.fail("release", key, {"token": token})
            else:
                h.info("release", key, {"token": token}, error=error_text(error))
            return
        h.ok("release", key, {"token": token})


def _outcome_unknown(lock: Any) -> bool:
    """A failed attempt is *certainly* not acquired only if every node answered (refused);
    a node that timed out or errored may have granted (the undo may not have reached it)."""
    failure = getattr(lock, "last_failure", None)
    errors = getattr(failure, "errors", None) or {}
    return any(isinstance(error, BaseException) for error in errors.values())


def _validity_ms(lock: Any) -> int:
    return max(0, int(lock.validity() * 1000))


def _is_not_owned(error: BaseException) -> bool:
    try:
        from majorityredis import LockNotOwned
    except ImportError:  # pragma: no cover - the library is a dependency of the harness
        return False
    return isinstance(error, LockNotOwned)
