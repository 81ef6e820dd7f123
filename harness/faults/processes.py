"""Node process faults: kill (SIGKILL, then restart with or without data) and pause (SIGSTOP/SIGCONT).

Windows that overlap on a node compose through `harness.faults.node_holds`:
a node comes back only when the last window holding it ends.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import Field

from harness.cluster.base import Cluster
from harness.faults.base import Fault, NodeTargetParams, choose_nodes
from harness.faults.node_holds import holds_for


class Kill(Fault):
    """SIGKILL the target nodes at start; at stop restart them (unless `restart` is false),
    keeping their data (what the persistence mode saved) or `empty`.

    `delay` postpones the restart by that many seconds after the entry's
    `duration` — e.g. to keep killed nodes down for a lock TTL when a random mix
    gives every fault the same duration (a Redlock "delayed restart").
    A node another kill window still holds stays down at stop ("held_down").
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
        holds = holds_for(cluster)
        already_down = []
        for node in nodes:
            self._killed.append(node)
            if not holds.kill(node, empty=self.params.empty):  # type: ignore[attr-defined]
                already_down.append(node)
        value = {"nodes": nodes, "restart": self.params.restart,  # type: ignore[attr-defined]
                 "empty": self.params.empty}  # type: ignore[attr-defined]
        if already_down:
            value["already_down"] = already_down
        return value

    def stop(self, cluster: Cluster) -> dict[str, Any]:
        params = self.params
        holds = holds_for(cluster)
        restarted: list[str] = []
        held_down: list[str] = []
        if params.restart:  # type: ignore[attr-defined]
            while self._killed:
                node = self._killed.pop(0)
                (restarted if holds.release_kill(node) else held_down).append(node)
        value: dict[str, Any] = {"restarted": restarted, "empty": params.empty}  # type: ignore[attr-defined]
        if held_down:
            value["held_down"] = held_down  # another kill window still holds them
        return value


class Pause(Fault):
    """SIGSTOP the target nodes at start (connections stay open, nothing answers); SIGCONT at stop.

    A node another pause window still holds stays stopped at stop ("held");
    a node that is down when paused is stopped as soon as it is restarted.
    """

    kind = "pause"
    Params = NodeTargetParams

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._paused: list[str] = []

    def start(self, cluster: Cluster, rng: random.Random) -> dict[str, Any]:
        nodes = choose_nodes(self.params.targets, cluster.node_names, rng)  # type: ignore[attr-defined]
        holds = holds_for(cluster)
        for node in nodes:
            self._paused.append(node)
            holds.pause(node)
        return {"nodes": nodes}

    def stop(self, cluster: Cluster) -> dict[str, Any]:
        holds = holds_for(cluster)
        resumed: list[str] = []
        held: list[str] = []
        while self._paused:
            node = self._paused.pop(0)
            if holds.release_pause(node):
                resumed.append(node)
            elif holds.held_paused(node):
                held.append(node)
        value: dict[str, Any] = {"resumed": resumed}
        if held:
            value["held"] = held  # another pause window still holds them
        return value
