"""Clock faults: a node's wall clock jumps, or runs fast or slow (Jepsen's clock nemesis, on real nodes).

Redis expires keys on its wall clock, so a node whose clock jumps forward drops
a lock key at once, and one whose clock runs at rate r > 1 drops it after
ttl / r real seconds — while the client that holds it still counts its validity
on its own (monotonic) clock. That is the classic critique of Redlock
(Kleppmann 2016); the library assumes clocks advance at the same rate within
its drift allowance (ttl * drift_factor + drift_ms).

Both go through the cluster's clock primitives (jump_clock, set_clock_rate),
which only a cluster started with clock control has — a run turns it on when
its scenario uses one of these faults (`needs_clock_control`). Overlapping
windows compose through `harness.faults.node_holds`: jumps add up and each
restore undoes its own; a node runs at the rate of the latest rate window
still holding it.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import Field, field_validator

from harness.cluster.base import Cluster
from harness.faults.base import Fault, NodeTargetParams, choose_nodes
from harness.faults.node_holds import holds_for


class ClockJump(Fault):
    """Add `offset_s` (positive: forward, negative: back) to the target nodes' wall clocks at start;
    at stop take it back (a jump by -offset_s) unless `restore` is false — then the clock keeps
    the offset until the run heals the cluster."""

    kind = "clock-jump"
    needs_clock_control = True

    class Params(NodeTargetParams):
        offset_s: float = Field(default=10.0, description="seconds added to the node clocks")
        restore: bool = True

        @field_validator("offset_s")
        @classmethod
        def _nonzero(cls, value: float) -> float:
            if value == 0:
                raise ValueError("offset_s must not be 0 (a jump of nothing)")
            return value

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._jumped: list[str] = []

    def start(self, cluster: Cluster, rng: random.Random) -> dict[str, Any]:
        nodes = choose_nodes(self.params.targets, cluster.node_names, rng)  # type: ignore[attr-defined]
        holds = holds_for(cluster)
        for node in nodes:
            holds.jump_clock(node, self.params.offset_s)  # type: ignore[attr-defined]
            self._jumped.append(node)
        return {"nodes": nodes, "offset_s": self.params.offset_s,  # type: ignore[attr-defined]
                "restore": self.params.restore}  # type: ignore[attr-defined]

    def stop(self, cluster: Cluster) -> dict[str, Any]:
        restored: list[str] = []
        if self.params.restore:  # type: ignore[attr-defined]
            holds = holds_for(cluster)
            while self._jumped:
                node = self._jumped[0]
                holds.jump_clock(node, -self.params.offset_s)  # type: ignore[attr-defined]
                restored.append(self._jumped.pop(0))
        return {"restored": restored, "offset_s": -self.params.offset_s if restored else 0.0}  # type: ignore[attr-defined]


class ClockRate(Fault):
    """The target nodes' wall clocks advance at `rate` (1.5: fast, 0.5: slow) from start, each
    continuing from its current reading; at stop back to the rate of an overlapping window still
    holding the node, or the real rate — without a step: the offset gained stays until heal."""

    kind = "clock-rate"
    needs_clock_control = True

    class Params(NodeTargetParams):
        rate: float = Field(default=2.0, gt=0, le=1000, description="clock seconds per real second")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: list[str] = []

    def start(self, cluster: Cluster, rng: random.Random) -> dict[str, Any]:
        nodes = choose_nodes(self.params.targets, cluster.node_names, rng)  # type: ignore[attr-defined]
        holds = holds_for(cluster)
        for node in nodes:
            holds.hold_rate(node, self.fault_id, self.params.rate)  # type: ignore[attr-defined]
            self._held.append(node)
        return {"nodes": nodes, "rate": self.params.rate}  # type: ignore[attr-defined]

    def stop(self, cluster: Cluster) -> dict[str, Any]:
        holds = holds_for(cluster)
        rates: dict[str, float] = {}
        while self._held:
            node = self._held[0]
            rates[node] = holds.release_rate(node, self.fault_id)
            self._held.pop(0)
        return {"nodes": list(rates), "rates": rates}
