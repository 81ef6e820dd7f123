"""Node process faults: kill (SIGKILL, then restart with or without data) and pause (SIGSTOP/SIGCONT)."""

from __future__ import annotations

import random
from typing import Any

from pydantic import Field

from harness.cluster.base import Cluster
from harness.faults.base import Fault, NodeTargetParams, choose_nodes


class Kill(Fault):
    """SIGKILL the target nodes at start; at stop restart them (unless `restart` is false),
    keeping their data (what the persistence mode saved) or `empty`.

    `delay` postpones the restart by that many seconds after the entry's
    `duration` — e.g. to keep killed nodes down for a lock TTL when a random mix
    gives every fault the same duration (a Redlock "delayed restart").
    """

    kind = "kill"

    class Params(NodeTargetParams):
        restart: bool = True
        empty: bool = False
        delay: float = Field(default=0.0, ge=0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._killed: list[str] = []

    def extra_window(self) -> float:
        return float(self.params.delay)  # type: ignore[attr-defined]

    def start(self, cluster: Cluster, rng: random.Random) -> dict[str, Any]:
        nodes = choose_nodes(self.params.targets, cluster.node_names, rng)  # type: ignore[attr-defined]
        for node in nodes:
            cluster.kill(node)
            self._killed.append(node)
        return {"nodes": nodes, "restart": self.params.restart,  # type: ignore[attr-defined]
                "empty": self.params.empty}  # type: ignore[attr-defined]

    def stop(self, cluster: Cluster) -> dict[str, Any]:
        params = self.params
        restarted: list[str] = []
        if params.restart:  # type: ignore[attr-defined]
            while self._killed:
                node = self._killed.pop(0)
                cluster.restart(node, empty=params.empty)  # type: ignore[attr-defined]
                restarted.append(node)
        return {"restarted": restarted, "empty": params.empty}  # type: ignore[attr-defined]


class Pause(Fault):
    """SIGSTOP the target nodes at start (connections stay open, nothing answers); SIGCONT at stop."""

    kind = "pause"
    Params = NodeTargetParams

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._paused: list[str] = []

    def start(self, cluster: Cluster, rng: random.Random) -> dict[str, Any]:
        nodes = choose_nodes(self.params.targets, cluster.node_names, rng)  # type: ignore[attr-defined]
        for node in nodes:
            cluster.pause(node)
            self._paused.append(node)
        return {"nodes": nodes}

    def stop(self, cluster: Cluster) -> dict[str, Any]:
        resumed: list[str] = []
        while self._paused:
            node = self._paused.pop(0)
            cluster.resume(node)
            resumed.append(node)
        return {"resumed": resumed}
