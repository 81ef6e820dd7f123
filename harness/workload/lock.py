"""The lock workload: clients acquire a majority lock, use a protected resource, release.

One cycle of a client (paced at `rate` cycles per second):
acquire (non-blocking) -> [sleep `pause` s: a GC pause] -> use (begin..commit at the
protected resource, `use_ms` long) -> [extend -> use again] -> release.

History (docs/design.md, "History contents per workload"): `acquire` ok
{"token", "validity_ms"} (validity measured just before recording, so conservative),
`use` invoke {"token", "resource"} ok {"token"} / fail {"token", "rejected", "highest"},
`extend` ok {"token", "validity_ms"}, `release` ok / fail (LockNotOwned: nothing held).

The client under test (`client:`, default our majorityredis) is driven through
harness.clients (one LockClient per client slot: in-process, or a worker process in the
library's own venv). A library without fencing tokens gets, as `token`, a hold number
the workload assigns in grant order (so holds and uses can be told apart): the fencing
checker does not apply to it and a fenced resource is refused. A library that reports no
validity is judged by the ttl it was asked for, counted from the invocation. A client
pause stops the whole client (SIGSTOP of its worker: background renewals stop too).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from harness.clients import DEFAULT_CLIENT, Attempt, LockClient, get_client, open_lock_client, prepare_client
from harness.clients.base import describe_spec
from harness.workload.base import (
    ClientContext,
    Pacer,
    ProcessHistory,
    Workload,
    WorkloadParams,
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

    client: str = Field(DEFAULT_CLIENT, description="the lock library under test (harness/clients/specs.py)")

    @field_validator("client")
    @classmethod
    def _known_client(cls, name: str) -> str:
        get_client(name)  # ValueError naming the known clients
        return name


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
        self.client_spec = get_client(params.client)
        self._hold_numbers = itertools.count(1)  # `token` of clients without fencing tokens
        self._client_description: dict[str, Any] | None = None
        self._opened: dict[int, LockClient] = {}  # slot -> a client started before the workload clock


    def prepare(self) -> None:
        """Before the cluster starts: build the client's venv if needed (exit 4 if impossible)."""
        prepare_client(self.params.client)

    def open_clients(self, urls_by_slot: list[list[str]]) -> None:
        """Before the workload clock starts (from the runner's thread, which outlives the run):
        start every slot's worker at once, so start-up time is not workload time."""
        if self.client_spec.in_process:
            return
        for slot, urls in enumerate(urls_by_slot):
            self._opened[slot] = open_lock_client(self.params.client, urls, connect=False,
                                                  socket_timeout=self.params.socket_timeout)
            self._opened[slot].launch()
        for client in self._opened.values():
            client.connect()

    def close_clients(self) -> None:
        """Close clients a slot never took over (an interrupted run)."""
        for client in list(self._opened.values()):
            client.close()
        self._opened.clear()

    def inapplicable_checkers(self) -> dict[str, str]:
        if self.client_spec.fencing_tokens:
            return {}
        return {"fencing": f"client {self.params.client} has no fencing tokens"}

    def results_extra(self) -> dict[str, Any]:
        """results.json `client`: name, package, version, scope, fencing_tokens, validity, extend."""
        return {"client": self._client_description or describe_spec(self.client_spec)}

    def validate_for(self, clients: int) -> str | None:
        from majorityredis.validity import drift_seconds

        if self.params.fenced and not self.client_spec.fencing_tokens:
            return (f"client {self.params.client} has no fencing tokens, so no resource can fence it: "
                    "use fenced: false (or a client with tokens)")
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
            client = self._opened.pop(ctx.slot, None) or open_lock_client(
                self.params.client, ctx.urls, socket_timeout=self.params.socket_timeout, mr=mr,
                lock_options={"drift_factor": self.params.drift_factor, "drift_ms": self.params.drift_ms})
            try:
                while not ctx.wait(pacer.delay()):
                    self.cycle(client, ctx, generator.next_cycle())
            finally:
                self._client_description = client.describe()
                client.close()

        run_with_library(self, ctx, loop)

    # -- one cycle -------------------------------------------------------------
    def cycle(self, client: LockClient, ctx: ClientContext, cycle: LockCycle) -> None:
        h, key = ctx.history, cycle.key
        token = self._acquire(client, ctx, key)
        if token is None:
            return
        if cycle.pause:
            client.pause()
            try:
                ctx.wait(cycle.pause)  # the stop event cuts a pause short; the hold is still used
            finally:
                client.resume()
        used = self._use(h, key, token, ctx)
        if used and cycle.extend and client.spec.extend and not ctx.stop.is_set():
            if self._extend(client, ctx, key, token):
                self._use(h, key, token, ctx)
        self._release(client, h, key, token)

    def _acquire(self, client: LockClient, ctx: ClientContext, key: str) -> int | None:
        h, clock = ctx.history, ctx.runtime.clock
        h.invoke("acquire", key)
        invoked = clock()
        attempt = client.acquire(key, self.params.ttl)
        if attempt.outcome == "ok":
            token = attempt.token if attempt.token is not None else next(self._hold_numbers)
            h.ok("acquire", key, {"token": token, "validity_ms": self._validity_ms(attempt, invoked, clock())})
            return token
        if attempt.outcome == "refused":
            h.fail("acquire", key)
        else:  # an error can mean the lock is held: unknown, never fail
            h.info("acquire", key, error=attempt.error or "unknown outcome")
        return None

    def _use(self, h: ProcessHistory, key: str, token: int, ctx: ClientContext) -> bool:
        resource = self.resources[key]
        return resource.use(
            token, self.params.use_ms / 1000.0, sleep=ctx.runtime.sleep,
            on_invoke=lambda: h.invoke("use", key, {"token": token, "resource": resource.name}),
            on_ok=lambda: h.ok("use", key, {"token": token}),
            on_reject=lambda highest: h.fail("use", key, {"token": token, "rejected": "stale token",
                                                          "highest": highest}))

    def _extend(self, client: LockClient, ctx: ClientContext, key: str, token: int) -> bool:
        h, clock = ctx.history, ctx.runtime.clock
        h.invoke("extend", key, {"token": token})
        invoked = clock()
        attempt = client.extend(key, self.params.ttl)
        if attempt.outcome == "ok":
            h.ok("extend", key, {"token": token, "validity_ms": self._validity_ms(attempt, invoked, clock())})
            return True
        if attempt.outcome == "refused":
            h.fail("extend", key, {"token": token})
        else:
            h.info("extend", key, {"token": token}, error=attempt.error or "unknown outcome")
        return False

    def _release(self, client: LockClient, h: ProcessHistory, key: str, token: int) -> None:
        h.invoke("release", key, {"token": token})
        attempt = client.release(key)
        if attempt.outcome == "ok":
            h.ok("release", key, {"token": token})
        elif attempt.outcome == "refused":
            h.fail("release", key, {"token": token})
        else:
            h.info("release", key, {"token": token}, error=attempt.error or "unknown outcome")

    def _validity_ms(self, attempt: Attempt, invoked: float, now: float) -> int:
        """Validity left `now` (just before recording; the client's monotonic clock, as
        `invoked` and `attempt.valid_until`): the library's, or else the requested ttl counted
        from the invocation (conservative)."""
        until = attempt.valid_until if attempt.valid_until is not None else invoked + self.params.ttl
        return max(0, int((until - now) * 1000))

