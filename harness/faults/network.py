"""Degraded links, as Toxiproxy toxics on the (client, node) proxies: latency with jitter,
bandwidth limits, connection resets. Targets: `targets` picks nodes, `clients` picks
client slots; the toxic goes on every chosen (client, node) proxy, on the chosen
`stream`(s). Each window names its toxics after itself, so overlapping windows
on one link do not undo each other."""

from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import Field

from harness.cluster.base import Cluster
from harness.faults.base import Fault, LinkTargetParams, NodeTargets, choose_clients, choose_nodes, streams


class ToxicFault(Fault):
    """Base: subclasses give `toxic_type` and `attributes()`."""

    toxic_type: str = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._applied: list[tuple[str, list[int], str]] = []  # (node, clients, toxic name)

    def attributes(self) -> dict[str, Any]:
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        return dict(self.attributes())

    def start(self, cluster: Cluster, rng: random.Random) -> dict[str, Any]:
        params = self.params
        nodes = choose_nodes(params.targets, cluster.node_names, rng)  # type: ignore[attr-defined]
        clients = choose_clients(params.clients, cluster.clients, rng)  # type: ignore[attr-defined]
        for node in nodes:
            for stream in streams(params.stream):  # type: ignore[attr-defined]
                name = f"{self.tag}-{stream}"
                self._applied.append((node, clients, name))
                cluster.add_toxic(node, self.toxic_type, self.attributes(), clients=clients,
                                  stream=stream, name=name)
        return {"nodes": nodes, "clients": clients, "stream": params.stream,  # type: ignore[attr-defined]
                **self.summary()}

    def stop(self, cluster: Cluster) -> dict[str, Any]:
        nodes: list[str] = []
        while self._applied:
            node, clients, name = self._applied.pop(0)
            cluster.remove_toxics(node, clients=clients, names=[name])
            if node not in nodes:
                nodes.append(node)
        return {"nodes": nodes}


class Latency(ToxicFault):
    """Delay data by `latency_ms` +/- `jitter_ms` (Toxiproxy `latency`)."""

    kind = "latency"
    toxic_type = "latency"

    class Params(LinkTargetParams):
        latency_ms: int = Field(default=100, ge=0)
        jitter_ms: int = Field(default=0, ge=0)

    def attributes(self) -> dict[str, Any]:
        return {"latency": self.params.latency_ms, "jitter": self.params.jitter_ms}  # type: ignore[attr-defined]

    def summary(self) -> dict[str, Any]:
        return {"latency_ms": self.params.latency_ms, "jitter_ms": self.params.jitter_ms}  # type: ignore[attr-defined]


class Bandwidth(ToxicFault):
    """Limit throughput to `rate_kbs` KB/s (Toxiproxy `bandwidth`)."""

    kind = "bandwidth"
    toxic_type = "bandwidth"

    class Params(LinkTargetParams):
        rate_kbs: int = Field(default=10, ge=0)

    def attributes(self) -> dict[str, Any]:
        return {"rate": self.params.rate_kbs}  # type: ignore[attr-defined]

    def summary(self) -> dict[str, Any]:
        return {"rate_kbs": self.params.rate_kbs}  # type: ignore[attr-defined]


class ResetConnections(ToxicFault):
    """Reset connections with a TCP RST after `timeout_ms` (0 = at once), while the
    window lasts (Toxiproxy `reset_peer`): clients see "connection reset by peer"."""

    kind = "reset-connections"
    toxic_type = "reset_peer"

    class Params(LinkTargetParams):
        timeout_ms: int = Field(default=0, ge=0)

    def attributes(self) -> dict[str, Any]:
        return {"timeout": self.params.timeout_ms}  # type: ignore[attr-defined]

    def summary(self) -> dict[str, Any]:
        return {"timeout_ms": self.params.timeout_ms}  # type: ignore[attr-defined]


class OneWayCut(ToxicFault):
    """Cut one direction of the chosen links (a Toxiproxy `timeout` toxic with timeout 0 on
    `stream`): "upstream" drops the requests (the node never sees them), "downstream" drops
    the replies (the node runs the command; the client times out not knowing). Jepsen's
    one-way partitions; both modes, real and simulated."""

    kind = "partition-one-way"
    toxic_type = "timeout"

    class Params(LinkTargetParams):
        targets: NodeTargets = "minority"
        stream: Literal["downstream", "upstream"] = "downstream"

    def attributes(self) -> dict[str, Any]:
        return {"timeout": 0}
