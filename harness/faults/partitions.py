"""Network partitions: patterns of cut (client, node) links, after Jepsen's partition nemeses.

The nodes never talk to each other, so a partition is fully described by which
client slots can reach which nodes. Each fault here only computes that
pattern (`plan`); `Partition` cuts the links at start and reconnects exactly
those at stop. Every start value carries "cut": {client: [nodes it cannot
reach]} (client slots as strings, JSON keys) plus the pattern's own summary.
`mode`: "drop" (default) — packets vanish, clients time out; "refuse" — the
proxy is disabled, connections are refused.
"""

from __future__ import annotations

import itertools
import random
from abc import abstractmethod
from typing import Annotated, Any, Literal, Union

from pydantic import Field

from harness.cluster.base import Cluster
from harness.faults.base import Fault, FaultParams, NodeTargets, choose_nodes

Pattern = tuple[dict[int, list[str]], dict[str, Any]]  # client -> unreachable nodes, summary


class PartitionParams(FaultParams):
    mode: Literal["drop", "refuse"] = "drop"


class Partition(Fault):
    """Base of the partition faults: subclasses implement `plan`."""

    Params = PartitionParams

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cut: list[tuple[int, str]] = []

    @abstractmethod
    def plan(self, cluster: Cluster, rng: random.Random) -> Pattern:
        """Which nodes each client slot must not reach, and a summary for the history."""

    def start(self, cluster: Cluster, rng: random.Random) -> dict[str, Any]:
        cuts, summary = self.plan(cluster, rng)
        mode = self.params.mode  # type: ignore[attr-defined]
        for client in sorted(cuts):
            for node in cuts[client]:
                cluster.cut(client, node, mode=mode)
                self._cut.append((client, node))
        return {**summary, "mode": mode,
                "cut": {str(c): list(nodes) for c, nodes in sorted(cuts.items()) if nodes}}

    def stop(self, cluster: Cluster) -> dict[str, Any]:
        healed: dict[str, list[str]] = {}
        while self._cut:
            client, node = self._cut.pop(0)
            cluster.connect(client, node)
            healed.setdefault(str(client), []).append(node)
        return {"healed": healed}


def _split(items: list[Any]) -> tuple[list[Any], list[Any]]:
    half = len(items) // 2
    return items[:half], items[half:]


def _in_order(chosen: list[str], nodes: list[str]) -> list[str]:
    return [n for n in nodes if n in chosen]


def _cuts_for_groups(cluster: Cluster, groups: list[tuple[list[int], list[str]]]) -> dict[int, list[str]]:
    cuts: dict[int, list[str]] = {}
    for clients, reachable in groups:
        for client in clients:
            cuts[client] = [n for n in cluster.node_names if n not in reachable]
    return cuts


class PartitionNode(Partition):
    """Isolate the target nodes from every client."""

    kind = "partition-node"

    class Params(PartitionParams):
        targets: NodeTargets = "random"

    def plan(self, cluster: Cluster, rng: random.Random) -> Pattern:
        isolated = choose_nodes(self.params.targets, cluster.node_names, rng)  # type: ignore[attr-defined]
        return {c: list(isolated) for c in range(cluster.clients)}, {"isolated": isolated}


class PartitionHalves(Partition):
    """Random halves: nodes split into a minority and a majority, clients into two groups;
    each client reaches only its group's nodes (Jepsen's partition-random-halves)."""

    kind = "partition-halves"

    def plan(self, cluster: Cluster, rng: random.Random) -> Pattern:
        node_groups = _split(rng.sample(cluster.node_names, len(cluster.node_names)))
        client_groups = _split(rng.sample(range(cluster.clients), cluster.clients))
        groups = [(sorted(cs), _in_order(ns, cluster.node_names))
                  for cs, ns in zip(client_groups, node_groups)]
        return (_cuts_for_groups(cluster, groups),
                {"groups": [{"clients": cs, "nodes": ns} for cs, ns in groups]})


class PartitionMajoritiesRing(Partition):
    """Every client sees a majority of nodes, and no two clients the same majority while
    there are enough distinct majorities (Jepsen's majorities-ring): nodes are placed on
    a random ring, client k sees the majority-sized arc starting at position k; with more
    clients than nodes, the other majorities are used before any repeats."""

    kind = "partition-majorities-ring"

    def plan(self, cluster: Cluster, rng: random.Random) -> Pattern:
        nodes = cluster.node_names
        size = len(nodes) // 2 + 1
        ring = rng.sample(nodes, len(nodes))
        majorities = [[ring[(i + j) % len(ring)] for j in range(size)] for i in range(len(ring))]
        if cluster.clients > len(majorities):
            seen = {frozenset(m) for m in majorities}
            others = [list(m) for m in itertools.combinations(nodes, size) if frozenset(m) not in seen]
            rng.shuffle(others)
            majorities += others
        slots = rng.sample(range(cluster.clients), cluster.clients)
        sees = {client: _in_order(majorities[i % len(majorities)], nodes) for i, client in enumerate(slots)}
        cuts = {c: [n for n in nodes if n not in seen_nodes] for c, seen_nodes in sees.items()}
        return cuts, {"sees": {str(c): sees[c] for c in sorted(sees)}}


class PartitionBridge(Partition):
    """Two node groups that share one bridge node; clients split in two, each group of
    clients reaches only its node group (Jepsen's bridge): with 5 nodes both sides see
    3 nodes, a majority each, through the bridge."""

    kind = "partition-bridge"

    def plan(self, cluster: Cluster, rng: random.Random) -> Pattern:
        shuffled = rng.sample(cluster.node_names, len(cluster.node_names))
        bridge, rest = shuffled[0], shuffled[1:]
        left, right = _split(rest)
        client_groups = _split(rng.sample(range(cluster.clients), cluster.clients))
        groups = [(sorted(cs), _in_order(ns + [bridge], cluster.node_names))
                  for cs, ns in zip(client_groups, (left, right))]
        return (_cuts_for_groups(cluster, groups),
                {"bridge": bridge, "groups": [{"clients": cs, "nodes": ns} for cs, ns in groups]})


class PartitionClient(Partition):
    """Cut one client slot from the target nodes (by default a random majority)."""

    kind = "partition-client"

    class Params(PartitionParams):
        client: Union[Annotated[int, Field(ge=0)], Literal["random"]] = "random"
        targets: NodeTargets = "majority"

    def plan(self, cluster: Cluster, rng: random.Random) -> Pattern:
        params = self.params
        client = params.client  # type: ignore[attr-defined]
        if client == "random":
            client = rng.randrange(cluster.clients)
        elif client >= cluster.clients:
            raise ValueError(f"unknown client slot {client}; slots are 0..{cluster.clients - 1}")
        nodes = choose_nodes(params.targets, cluster.node_names, rng)  # type: ignore[attr-defined]
        return {client: nodes}, {"client": client, "isolated_from": nodes}
