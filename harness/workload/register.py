"""The register workload: reads and writes of a few keys through majority GET/SET.

Each client picks a key and reads it or writes a value unique to that key
(`n * clients + slot + 1` for the client's n-th write of the key). Consistency
`linearizable` or `fast` is passed to the library. The final quiescent phase reads
every key once through the nodes' direct URLs, so a lost write shows.

History: `read` invoke null, ok int or null; `write` invoke int, ok the same int;
anything that raises is `info` (a write may have reached some nodes).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from harness.workload.base import (
    ClientContext,
    Pacer,
    Workload,
    WorkloadParams,
    error_text,
    register_workload,
    run_with_library,
)
from majorityredis.runtime import REAL, Runtime


class RegisterParams(WorkloadParams):
    """`workload:` section of a register scenario."""

    type: Literal["register"]
    keys: int = Field(3, ge=1, le=1000, description="number of register keys (k0, k1, ...)")
    read_fraction: float = Field(0.5, ge=0, le=1, description="share of reads among ops")
    rate: float | None = Field(20.0, gt=0, description="ops per second per client (null: no pacing)")
    consistency: Literal["linearizable", "fast"] = Field("linearizable", description="library read mode")
    clock_skew_ms: float = Field(0.0, ge=0, description=(
        "client wall clocks are spread evenly over [-skew, +skew] ms (the fast mode's write versions "
        "are the writer's wall clock)"))


@dataclass(frozen=True, slots=True)
class RegisterOp:
    f: str          # "read" | "write"
    key: str
    value: int | None


class RegisterGenerator:
    """Pure, seeded: the ops of client `slot` (write values unique per key across clients)."""

    def __init__(self, params: RegisterParams, rng: random.Random, *, slot: int, clients: int) -> None:
        self.params = params
        self.rng = rng
        self.slot = slot
        self.clients = clients
        self.names = register_keys(params)
        self._writes: dict[str, int] = {}

    def next_op(self) -> RegisterOp:
        key = self.rng.choice(self.names)
        if self.rng.random() < self.params.read_fraction:
            return RegisterOp("read", key, None)
        n = self._writes.get(key, 0)
        self._writes[key] = n + 1
        return RegisterOp("write", key, n * self.clients + self.slot + 1)


def register_keys(params: RegisterParams) -> list[str]:
    return [f"k{i}" for i in range(params.keys)]


def clock_skew_ns(params: RegisterParams, slot: int, clients: int) -> int:
    """Client `slot`'s wall-clock offset: evenly spread over [-skew, +skew] (0 for one client)."""
    if clients < 2 or not params.clock_skew_ms:
        return 0
    return int(params.clock_skew_ms * 1e6 * (2 * slot / (clients - 1) - 1))


@register_workload
class RegisterWorkload(Workload):
    name = "register"
    Params = RegisterParams
    default_checkers = ("register",)

    def __init__(self, params: RegisterParams, *, seed: int, clients: int) -> None:  # type: ignore[override]
        super().__init__(params, seed=seed, clients=clients)
        self.params: RegisterParams = params

    def keys(self) -> list[str]:
        return register_keys(self.params)

    def connect(self, urls: list[str], runtime: Runtime = REAL, socket_timeout: float | None = None) -> Any:
        from majorityredis import MajorityRedis

        return MajorityRedis.from_urls(urls, socket_timeout=socket_timeout or self.params.socket_timeout,
                                       consistency=self.params.consistency, runtime=runtime,
                                       **self.params.library_options())

    def run_client(self, ctx: ClientContext) -> None:
        generator = RegisterGenerator(self.params, ctx.rng, slot=ctx.slot, clients=ctx.clients)
        pacer = Pacer(self.params.rate, ctx.runtime.clock, phase=ctx.rng.random())

        def loop(mr: Any) -> None:
            register = self.register_of(mr, clock_skew_ns(self.params, ctx.slot, ctx.clients))
            while not ctx.wait(pacer.delay()):
                self.perform(register, ctx, generator.next_op())

        run_with_library(self, ctx, loop)

    def register_of(self, mr: Any, skew_ns: int) -> Any:
        """What the client reads and writes through: `mr` itself, or a Register whose wall clock
        is off by `skew_ns` (only the fast mode reads that clock)."""
        if not skew_ns:
            return mr
        from majorityredis.register import Register

        wall_clock = mr.runtime.wall_clock
        return Register(mr, consistency=self.params.consistency,
                        wall_clock=lambda: int(wall_clock() * 1e9) + skew_ns)

    def perform(self, mr: Any, ctx: ClientContext, op: RegisterOp) -> None:
        h = ctx.history
        h.invoke(op.f, op.key, op.value)
        try:
            if op.f == "read":
                raw = mr.get(op.key)
                result = None if raw is None else int(raw)
            else:
                mr.set(op.key, str(op.value))
                result = op.value
        except Exception as error:  # noqa: BLE001 - NoQuorum, timeouts: unknown outcome
            h.info(op.f, op.key, op.value, error=error_text(error))
            return
        h.ok(op.f, op.key, result)

    def final_phase(self, ctx: ClientContext) -> None:
        """Read every key once through the direct URLs (after heal and settle)."""

        def reads(mr: Any) -> None:
            for key in self.keys():
                self.perform(mr, ctx, RegisterOp("read", key, None))

        run_with_library(self, ctx, reads)
