"""`SimCluster`: the harness's Cluster interface on a simulated world, so the real fault classes run unchanged.

The faults of harness.faults act through the Cluster primitives (cut and
connect links, add and remove toxics, kill, restart, pause and resume nodes,
jump or re-rate node clocks); here those primitives act on a `SimWorld`
instead of Toxiproxy and redis-server processes, with the same semantics:
cuts are reference-counted per link, toxics are named per link, `heal()`
puts everything back (links up, toxics gone, nodes resumed and restarted
with their data, clocks true). Primitives that only a simulator has — client
process pauses, client clock rates, client crashes, restarts that lose the
last writes — are methods of this class alone; the faults that use them are
marked `simulation_only` and the real runner refuses them.

Persistence follows the scenario's `cluster.persistence`: a killed node
restarts empty with "none" (as a real redis-server without persistence), with
all its data with "appendonly always", and without the writes of the last
0–1 s (drawn from the node's stream) with "appendonly everysec".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from harness.cluster.base import CUT_MODES, ClusterShape, ToxicLedger, node_names
from harness.sim.network import Toxic
from harness.sim.runtime import URL_SCHEME, ClientProcess
from harness.sim.streams import stream
from harness.sim.world import DIRECT, SimWorld

EVERYSEC_MAX_LOSS_S = 1.0


class ClientCrash(BaseException):
    """Raised inside a simulated client's tasks when its process crashes (not an Exception:
    the workload's error handling must not swallow it)."""


class SimCluster(ClusterShape):
    """The Cluster protocol (harness.cluster.base) over a SimWorld; see the module docstring."""

    def __init__(self, world: SimWorld, persistence: str = "none") -> None:
        self.world = world
        self.node_names: list[str] = list(world.node_names)
        self.clients: int = world.clients
        self.persistence = persistence
        self._cuts: Counter[tuple[int, str]] = Counter()
        self._cut_modes: dict[tuple[int, str], str] = {}
        self._toxics = ToxicLedger()
        self._loss_rng = stream(world.seed, "persistence")
        self.processes: dict[int | str, ClientProcess] = {}
        self.client_starter: Callable[[int], None] | None = None  # the runner's: start a client's worker

    # -- lifecycle and addresses ----------------------------------------------------------
    def start(self) -> None:
        """Nothing to start: the world exists."""

    def stop(self) -> None:
        """Nothing to stop: no process runs outside this one."""

    def client_urls(self, client: int) -> list[str]:
        self._check(client=client)
        return [f"{URL_SCHEME}{client}/{node}" for node in self.node_names]

    def direct_urls(self) -> list[str]:
        return [f"{URL_SCHEME}{DIRECT}/{node}" for node in self.node_names]

    def process(self, client: int | str) -> ClientProcess:
        """The simulated process of a client slot (or of the final phase, "direct")."""
        if client not in self.processes:
            self.processes[client] = ClientProcess(self.world, client)
        return self.processes[client]

    # -- links ------------------------------------------------------------------------------
    def cut(self, client: int, node: str, *, mode: str = "drop") -> None:
        self._check(client, node)
        if mode not in CUT_MODES:
            raise ValueError(f"cut mode must be one of {CUT_MODES}, not {mode!r}")
        link = (client, node)
        self._cuts[link] += 1
        if self._cuts[link] == 1:
            self._cut_modes[link] = mode
            self.world.link(client, node).set_cut(mode)

    def connect(self, client: int, node: str) -> None:
        self._check(client, node)
        link = (client, node)
        if self._cuts[link] > 1:
            self._cuts[link] -= 1
            return
        self._cuts.pop(link, None)
        self._cut_modes.pop(link, None)
        self.world.link(client, node).set_cut(None)

    def is_cut(self, client: int, node: str) -> bool:
        return self._cuts[(client, node)] > 0

    def add_toxic(self, node: str, toxic_type: str, attributes: dict[str, Any], *,
                  clients: list[int] | None = None, stream: str = "downstream",
                  name: str | None = None) -> None:
        toxic_name = self._toxic_name(node, toxic_type, stream, name)
        for client in self._client_list(clients):
            self.world.link(client, node).add_toxic(toxic_name, Toxic(toxic_type, stream, dict(attributes)))
            self._toxics.add(client, node, toxic_name)

    def remove_toxics(self, node: str, *, clients: list[int] | None = None,
                      names: Iterable[str] | None = None) -> None:
        self._check(node=node)
        for client in self._client_list(clients):
            for toxic_name in self._toxics.take(client, node, names):
                self.world.link(client, node).remove_toxic(toxic_name)

    # -- nodes ------------------------------------------------------------------------------
    def kill(self, node: str) -> None:
        self._check(node=node)
        self.world.nodes[node].kill()

    def restart(self, node: str, *, empty: bool = False) -> None:
        self._check(node=node)
        if empty or self.persistence == "none":
            keep: str | float = "none"
        elif self.persistence == "appendonly always":
            keep = "all"
        else:
            keep = self._loss_rng.uniform(0.0, EVERYSEC_MAX_LOSS_S)
        self.world.nodes[node].restart(keep=keep)

    def restart_losing(self, node: str, lost_s: float) -> None:
        """Restart a killed node without the writes of its last `lost_s` seconds (simulation only)."""
        self._check(node=node)
        self.world.nodes[node].restart(keep=max(0.0, float(lost_s)))

    def pause(self, node: str) -> None:
        self._check(node=node)
        self.world.nodes[node].pause()

    def resume(self, node: str) -> None:
        self._check(node=node)
        self.world.nodes[node].resume()

    # -- clocks -----------------------------------------------------------------------------
    def jump_clock(self, node: str, offset_s: float) -> None:
        self._check(node=node)
        self.world.nodes[node].clock.jump(offset_s)

    def set_clock_rate(self, node: str, rate: float) -> None:
        self._check(node=node)
        self.world.nodes[node].clock.set_rate(rate)

    def reset_clock(self, node: str) -> None:
        self._check(node=node)
        self.world.nodes[node].clock.reset()

    # -- client processes (simulation only) ----------------------------------------------------
    def pause_client(self, client: int, *, in_call: bool = False) -> None:
        """Stop the client's process now, or (`in_call`) at its next fan-out call, once its requests
        are written and before any reply is read."""
        self._check(client=client)
        process = self.process(client)
        if in_call:
            process.pause_in_call = True
        else:
            process.gate.pause()

    def resume_client(self, client: int) -> None:
        self._check(client=client)
        process = self.process(client)
        process.pause_in_call = False
        process.gate.resume()

    def set_client_clock_rate(self, client: int, rate: float) -> None:
        self._check(client=client)
        self.process(client).set_clock_rate(rate)

    def crash_client(self, client: int) -> None:
        """Kill the client's process where it stands: its op in flight stays without a completion."""
        self._check(client=client)
        process = self.process(client)
        process.gate.resume()  # a crashed process is not paused any more
        for task in process.tasks:
            self.world.kernel.kill(task, ClientCrash(f"client {client} crashed"))
        process.tasks = [t for t in process.tasks if t.is_alive()]

    def restart_client(self, client: int) -> None:
        """Start a crashed client's worker afresh (as a new history process)."""
        self._check(client=client)
        if self.client_starter is None:
            raise RuntimeError("no runner is attached to restart clients")
        self.client_starter(client)

    # -- heal -------------------------------------------------------------------------------
    def heal(self) -> None:
        """All links up, toxics removed, nodes resumed and restarted with their data, clocks true;
        client pauses end and client clocks run at rate 1 again."""
        self._cuts.clear()
        self._cut_modes.clear()
        self._toxics.clear()
        for link in self.world.links.values():
            link.set_cut(None)
            link.toxics.clear()
        for name, host in self.world.nodes.items():
            if not host.up:
                self.restart(name)
            host.resume()
            host.clock.reset()
        for process in self.processes.values():
            process.pause_in_call = False
            process.gate.resume()
            process.set_clock_rate(1.0)


def sim_cluster_for(seed: int, nodes: int, clients: int, persistence: str) -> SimCluster:
    """A fresh world of `nodes` nodes (n1..nN) and `clients` client slots, and its cluster."""
    return SimCluster(SimWorld(seed, node_names(nodes), clients), persistence)
