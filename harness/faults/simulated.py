"""Faults only the deterministic simulator can make: client process pauses, client clock rates,
client crashes, and node crashes that lose their most recent writes.

They act through primitives only `harness.sim.cluster.SimCluster` has
(`pause_client`, `set_client_clock_rate`, `crash_client`/`restart_client`,
`restart_losing`), so each class says `simulation_only = True`: the real-time
runner refuses a scenario that uses one (exit 3, naming the entry), and such
scenarios live under scenarios/sim/.

- `client-pause`: the chosen client processes stop dead until the window ends —
  at whatever point of an operation they are (between acquire and use: a GC
  pause or a SIGSTOP), or with `when: in-call` at their next fan-out call,
  between writing the requests and reading any reply — and resume at its end;
  their timers fire late and their replies wait.
- `client-clock-rate`: the chosen clients' monotonic clocks run at `rate`
  (validity, deadlines and sleeps follow it) for the window.
- `client-crash`: the chosen client processes crash at the window's start (the
  op in flight stays without a completion: unknown) and start afresh, as new
  history processes, at its end.
- `crash-lose-writes`: the chosen nodes are killed and, at the end of the window
  (plus `delay`), restarted without the writes of their last `lost_ms` ms
  (appendfsync everysec loses up to a second).
"""

from __future__ import annotations

import random
from typing import Any, ClassVar, Literal

from pydantic import Field

from harness.cluster.base import Cluster
from harness.faults.base import ClientTargets, Fault, FaultParams, NodeTargetParams, choose_clients, choose_nodes


class ClientTargetParams(FaultParams):
    clients: ClientTargets = "random"


class SimulationFault(Fault):
    """Base of the simulation-only faults (see the module docstring)."""

    simulation_only: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._targets: list[Any] = []

    def _clients(self, cluster: Cluster, rng: random.Random) -> list[int]:
        self._targets = choose_clients(self.params.clients, cluster.clients, rng)  # type: ignore[attr-defined]
        return self._targets


class ClientFault(SimulationFault):
    """A fault done to each chosen client process at the window's start (`begin`) and undone at
    its end (`end`); the start event records the clients and `details()`."""

    def begin(self, cluster: Cluster, client: int) -> None:
        raise NotImplementedError

    def end(self, cluster: Cluster, client: int) -> None:
        raise NotImplementedError

    def details(self) -> dict[str, Any]:
        return {}

    def start(self, cluster: Cluster, rng: random.Random) -> dict[str, Any]:
        clients = self._clients(cluster, rng)
        for client in clients:
            self.begin(cluster, client)
        return {"clients": clients, **self.details()}

    def stop(self, cluster: Cluster) -> dict[str, Any]:
        ended, self._targets = self._targets, []
        for client in ended:
            self.end(cluster, client)
        return {"clients": ended}


class ClientPause(ClientFault):
    kind = "client-pause"

    class Params(ClientTargetParams):
        when: Literal["now", "in-call"] = Field(
            default="now", description='"now": at the window start; "in-call": at the client\'s next '
            "fan-out call, after its requests are written and before any reply is read")

    def begin(self, cluster: Cluster, client: int) -> None:
        cluster.pause_client(client, in_call=self.params.when == "in-call")  # type: ignore[attr-defined]

    def end(self, cluster: Cluster, client: int) -> None:
        cluster.resume_client(client)  # type: ignore[attr-defined]

    def details(self) -> dict[str, Any]:
        return {"when": self.params.when}  # type: ignore[attr-defined]


class ClientClockRate(ClientFault):
    kind = "client-clock-rate"

    class Params(ClientTargetParams):
        rate: float = Field(default=2.0, gt=0, description="how fast the clients' monotonic clocks run")

    def begin(self, cluster: Cluster, client: int) -> None:
        cluster.set_client_clock_rate(client, self.params.rate)  # type: ignore[attr-defined]

    def end(self, cluster: Cluster, client: int) -> None:
        cluster.set_client_clock_rate(client, 1.0)  # type: ignore[attr-defined]

    def details(self) -> dict[str, Any]:
        return {"rate": self.params.rate}  # type: ignore[attr-defined]


class ClientCrash(ClientFault):
    kind = "client-crash"
    Params = ClientTargetParams

    def begin(self, cluster: Cluster, client: int) -> None:
        cluster.crash_client(client)  # type: ignore[attr-defined]

    def end(self, cluster: Cluster, client: int) -> None:
        cluster.restart_client(client)  # type: ignore[attr-defined]


class CrashLoseWrites(SimulationFault):
    kind = "crash-lose-writes"

    class Params(NodeTargetParams):
        lost_ms: int = Field(default=1000, ge=0, description="writes of the last lost_ms ms are lost")
        delay: float = Field(default=0.0, ge=0, description="seconds the restart comes after `duration`")

    def extra_window(self) -> float:
        return float(self.params.delay)  # type: ignore[attr-defined]

    def start(self, cluster: Cluster, rng: random.Random) -> dict[str, Any]:
        self._targets = choose_nodes(self.params.targets, cluster.node_names, rng)  # type: ignore[attr-defined]
        for node in self._targets:
            cluster.kill(node)
        return {"nodes": list(self._targets), "lost_ms": self.params.lost_ms}  # type: ignore[attr-defined]

    def stop(self, cluster: Cluster) -> dict[str, Any]:
        restarted, self._targets = self._targets, []
        for node in restarted:
            cluster.restart_losing(node, self.params.lost_ms / 1000.0)  # type: ignore[attr-defined]
        return {"restarted": restarted, "lost_ms": self.params.lost_ms}  # type: ignore[attr-defined]


SIMULATION_FAULTS: tuple[type[Fault], ...] = (ClientPause, ClientClockRate, ClientCrash, CrashLoseWrites)
