"""The simulated world: the kernel, the nodes, every client's links to them, and the client processes.

One `SimWorld` per simulated run. Its parts are built from one seed, each
with its own random stream (harness.sim.streams): node clock skews, every
link's base latency and jitter, every client process's randomness. Client
slot `c` reaches node `n` over `links[(c, n)]`; the final quiescent phase
uses the "direct" links, which no fault touches (the real runner's direct
URLs bypass Toxiproxy the same way).
"""

from __future__ import annotations

from harness.sim.kernel import Kernel
from harness.sim.network import Link
from harness.sim.nodes import NodeHost
from harness.sim.streams import stream

DIRECT = "direct"          # the client name of the final phase's links
BASE_LATENCY_S = (40e-6, 120e-6)  # one-way loopback-through-a-proxy latency, drawn per link
NODE_SKEW_S = 0.005        # node wall clocks start up to this far from true time (irrelevant to PX)


class SimWorld:
    """Nodes and links of one simulated run (see the module docstring)."""

    def __init__(self, seed: int, node_names: list[str], clients: int) -> None:
        self.seed = seed
        self.kernel = Kernel()
        self.node_names = list(node_names)
        self.clients = clients
        self.nodes: dict[str, NodeHost] = {}
        for name in self.node_names:
            skew = stream(seed, "node", name).uniform(-NODE_SKEW_S, NODE_SKEW_S)
            self.nodes[name] = NodeHost(self.kernel, name, skew_s=skew)
        self.links: dict[tuple[int | str, str], Link] = {}
        for client in [*range(clients), DIRECT]:
            for name in self.node_names:
                self.links[(client, name)] = self._link(client, name)

    def _link(self, client: int | str, node: str) -> Link:
        rng = stream(self.seed, "link", client, node)
        return Link(self.kernel, self.nodes[node], rng, rng.uniform(*BASE_LATENCY_S))

    def link(self, client: int | str, node: str) -> Link:
        try:
            return self.links[(client, node)]
        except KeyError:
            raise ValueError(f"no simulated link from client {client!r} to node {node!r}") from None
