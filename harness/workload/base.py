"""The Workload interface (Jepsen's client + generator) and the WORKLOADS registry.

A workload has three parts:
- `Params`: a pydantic model of its scenario section (`workload: {type: <name>, ...}`),
  with `type: Literal[<name>]` so the scenario schema can pick the model by tag;
- a pure, seeded *generator* of what each client does next (unit-testable without Redis);
- `run_client(ctx)`: the loop of one client worker, which drives its own MajorityRedis
  through its own proxies and records every op as invoke -> ok | fail | info;
- `final_phase(ctx)`: the quiescent phase after the faults are healed (final reads,
  queue drain), through the nodes' direct URLs.

Contract of `run_client`: it returns soon after `ctx.stop` is set (it checks between ops
and waits on the event instead of sleeping); it never touches processes (the nemesis
does); it records `fail` only when the op certainly did not take effect and `info`
(unknown) on timeouts, NoQuorum and any unexpected error. It reaches time, sleep and
the library only through `ctx.runtime` (majorityredis.runtime: the real world, or a
simulated one — see harness.sim), never `time` or `threading` directly, so the same
workload runs in real time and in deterministic simulation. A new workload is one
module with one class plus one entry in WORKLOADS.
"""

from __future__ import annotations

import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from harness.history.recorder import Recorder
from majorityredis.runtime import REAL, EventLike, Runtime

# Process ids of the final quiescent phase live above every worker's ids.
FINAL_PROCESS_BASE = 1_000_000


class WorkloadParams(BaseModel):
    """Base of every workload's scenario section (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    if TYPE_CHECKING:  # every subclass declares it as its Literal tag; not a field of the base
        type: str

    socket_timeout: float = Field(0.5, gt=0, description="socket timeout of every Redis connection (s)")
    recovery: bool = Field(True, description="the library's protection against nodes that lost their data "
                                             "(MajorityRedis(recovery=...)); false shows what breaks without it")
    max_ttl: float | None = Field(None, gt=0, description="MajorityRedis(max_ttl=...): the recovery period and "
                                                          "longest hold ttl (s); default the library's")

    def library_options(self) -> dict[str, Any]:
        """The MajorityRedis keywords these parameters set (recovery, max_ttl)."""
        options: dict[str, Any] = {"recovery": self.recovery}
        if self.max_ttl is not None:
            options["max_ttl"] = self.max_ttl
        return options


BOOTSTRAP_TIMEOUT = 5.0
"""Seconds each bootstrap attempt waits for the nodes' replies (Workload.bootstrap)."""
BOOTSTRAP_ATTEMPTS = 3
"""Attempts before an unadmittable cluster is an environment failure (exit 4)."""


def hold_ttl(ttl: float) -> float:
    """A pydantic check of a workload's hold `ttl`: the library refuses a ttl not longer than its
    drift allowance (ttl * drift_factor + drift_ms, the defaults the workloads use), and every
    worker would die at its first call; refuse it in the scenario instead, before anything starts."""
    import inspect

    from majorityredis.lock import Lock
    from majorityredis.validity import check_ttl

    defaults = inspect.signature(Lock).parameters
    check_ttl(ttl, defaults["drift_factor"].default, defaults["drift_ms"].default)
    return ttl


class ProcessHistory:
    """One worker's handle on the history: its current process id and the op helpers.

    Jepsen's rule: a process has one op in flight, and after an `info` completion it
    never invokes again — the worker continues as process `id + stride`.
    """

    def __init__(self, recorder: Recorder, first_id: int, stride: int) -> None:
        self.recorder = recorder
        self.process = first_id
        self.stride = stride
        self.crashes = 0

    def invoke(self, f: str, key: Any, value: Any = None) -> None:
        self.recorder.record(self.process, "invoke", f, value, key=key)

    def ok(self, f: str, key: Any, value: Any = None) -> None:
        self.recorder.record(self.process, "ok", f, value, key=key)

    def fail(self, f: str, key: Any, value: Any = None) -> None:
        self.recorder.record(self.process, "fail", f, value, key=key)

    def info(self, f: str, key: Any, value: Any = None, *, error: str | None = None) -> None:
        """Unknown outcome: record it, then continue under a new process id."""
        extra = {"error": error} if error else {}
        self.recorder.record(self.process, "info", f, value, key=key, **extra)
        self.process += self.stride
        self.crashes += 1


@dataclass
class ClientContext:
    """What a worker gets from the runner (one per client slot, or one for the final phase)."""

    slot: int
    clients: int
    urls: list[str]
    history: ProcessHistory
    stop: EventLike
    rng: random.Random
    runtime: Runtime = field(default=REAL)  # time, sleep and the network of this client

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when the run is stopping (wake up at once on stop)."""
        if seconds <= 0:
            return self.stop.is_set()
        return self.stop.wait(seconds)


def client_rng(seed: int, slot: int | str) -> random.Random:
    """The generator randomness of one client slot: same seed -> same op mix."""
    return random.Random(f"{seed}/{slot}")


class Pacer:
    """Paces one client at `rate` ops per second (None: as fast as it can).

    A client that falls behind does not burst to catch up: the next op is due one
    interval after the later of its schedule and now.
    """

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic,
                 *, phase: float = 0.0) -> None:
        """`phase` in [0, 1): the first op is due `phase` intervals from now, so that
        clients started together do not all fire on the same tick."""
        self.interval = 0.0 if not rate else 1.0 / rate
        self.clock = clock
        self._next = clock() + phase * self.interval

    def delay(self) -> float:
        """Seconds until the next op is due (and advance the schedule)."""
        now = self.clock()
        due = max(self._next, now)
        self._next = due + self.interval
        return due - now


def error_text(error: BaseException) -> str:
    """One line naming the exception, for `info` events."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__


class Workload(ABC):
    """A workload of a scenario: generator + client loop + final phase (see module doc)."""

    name: ClassVar[str]
    Params: ClassVar[type[WorkloadParams]]
    #: checkers run when the scenario names none
    default_checkers: ClassVar[tuple[str, ...]]

    def __init__(self, params: WorkloadParams, *, seed: int, clients: int) -> None:
        self.params = params
        self.seed = seed
        self.clients = clients

    def validate_for(self, clients: int) -> str | None:
        """A reason why this workload cannot run with `clients` client slots, or None."""
        return None

    def connect(self, urls: list[str], runtime: Runtime = REAL, socket_timeout: float | None = None) -> Any:
        """A MajorityRedis over `urls` with this workload's options (one per worker); socket_timeout
        overrides the workload's own (the bootstrap's longer deadline)."""
        from majorityredis import MajorityRedis

        return MajorityRedis.from_urls(urls, socket_timeout=socket_timeout or self.params.socket_timeout,
                                       runtime=runtime, **self.params.library_options())

    def bootstrap(self, urls: list[str], runtime: Runtime = REAL) -> None:
        """Admit the nodes of the brand-new cluster the run just started (once, before any client):
        the harness is the operator who knows the cluster is new (MajorityRedis.bootstrap_new_cluster).
        Nothing to do when the workload runs with recovery off."""
        if not self.params.recovery:
            return
        from harness.errors import EnvironmentFailure
        from majorityredis.errors import NoQuorum

        # An operator step before the workload clock starts: nothing is measured, so it waits
        # longer than the workload's socket_timeout and retries (the first script load on a
        # loaded machine can outlast a 0.3 s deadline) instead of failing the run on one slow reply.
        mr = self.connect(urls, runtime, socket_timeout=max(self.params.socket_timeout, BOOTSTRAP_TIMEOUT))
        try:
            for attempt in range(1, BOOTSTRAP_ATTEMPTS + 1):
                try:
                    mr.bootstrap_new_cluster()
                    return
                except NoQuorum as no_quorum:
                    if attempt == BOOTSTRAP_ATTEMPTS:
                        raise EnvironmentFailure(
                            f"the new cluster's nodes could not be admitted after {attempt} attempts "
                            f"({BOOTSTRAP_TIMEOUT:g} s each): {no_quorum}") from no_quorum
                    runtime.sleep(BOOTSTRAP_TIMEOUT / 10)
        finally:
            mr.close()

    @abstractmethod
    def run_client(self, ctx: ClientContext) -> None:
        """The loop of client slot `ctx.slot`; returns soon after ctx.stop is set."""

    def final_phase(self, ctx: ClientContext) -> None:  # noqa: B027 - optional: most workloads need none
        """The quiescent phase through direct URLs (default: nothing)."""

    def keys(self) -> list[str]:
        """The keys (lock names, register keys, queue names) this workload touches."""
        return []


def run_with_library(workload: Workload, ctx: ClientContext, body: Callable[[Any], None]) -> None:
    """Connect, run `body(mr)`, always close the client."""
    mr = workload.connect(ctx.urls, ctx.runtime)
    try:
        body(mr)
    finally:
        try:
            mr.close()
        except Exception:  # noqa: BLE001 - closing must not hide the run's outcome
            pass


WORKLOADS: dict[str, type[Workload]] = {}


def register_workload(cls: type[Workload]) -> type[Workload]:
    """Class decorator: add a workload to WORKLOADS under `cls.name`."""
    WORKLOADS[cls.name] = cls
    return cls
