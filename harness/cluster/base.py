"""The cluster interface the runner and the faults use, and the proxy bookkeeping both clusters share.

A cluster is N independent Redis nodes ("n1".."nN") and C client slots
(0..C-1). Every (client slot, node) pair has its own Toxiproxy proxy, named
`proxy_name(client, node)` (e.g. "c3-n2"), so a fault can cut or slow any
client's link to any node without touching the others. Redis nodes never talk
to each other, so a network partition *is* a pattern of cut client links.

Link primitives (all idempotent at the HTTP level, safe to repeat):
- `cut(client, node, mode="drop")`: "drop" adds a Toxiproxy `timeout` toxic
  with timeout=0 on both streams — bytes are silently dropped and connections
  hang, so the client sees socket timeouts, like a real partition; "refuse"
  disables the proxy — connections are refused/closed at once.
- cuts are reference-counted per link: two overlapping faults that cut the same
  link each `connect` it once, and the link comes back when the last one does.
- `heal()` resets everything: links up, every toxic removed, paused nodes
  resumed, killed nodes restarted with their data, node clocks back to real time.

Clock primitives (a node's wall clock — what Redis expires keys by; its
monotonic clock is never touched): `jump_clock(node, offset_s)` adds offset_s
to the node's wall clock from now; `set_clock_rate(node, rate)` makes it
advance at `rate` from now, continuing from its current reading;
`reset_clock(node)` puts it back to real time. Only a cluster started with
clock control supports them (LocalCluster(clock_control=True)); others raise
ClockUnsupported.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any, Iterable, Protocol, runtime_checkable

from harness.cluster.toxiproxy import ProxyAddress, ToxiproxyControl

log = logging.getLogger(__name__)

CUT_MODES = ("drop", "refuse")
CUT_TOXICS = ("cut-upstream", "cut-downstream")  # names of the timeout toxics of a "drop" cut


def proxy_name(client: int, node: str) -> str:
    """The Toxiproxy proxy of a (client slot, node) link: client 3 to node n2 is "c3-n2"."""
    return f"c{client}-{node}"


def node_names(count: int) -> list[str]:
    return [f"n{i + 1}" for i in range(count)]


@runtime_checkable
class Cluster(Protocol):
    """What a run needs from a cluster (LocalCluster, ExternalCluster)."""

    node_names: list[str]
    clients: int

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def client_urls(self, client: int) -> list[str]: ...
    def direct_urls(self) -> list[str]: ...
    def heal(self) -> None: ...
    def cut(self, client: int, node: str, *, mode: str = "drop") -> None: ...
    def connect(self, client: int, node: str) -> None: ...
    def kill(self, node: str) -> None: ...
    def restart(self, node: str, *, empty: bool = False) -> None: ...
    def pause(self, node: str) -> None: ...
    def resume(self, node: str) -> None: ...
    def add_toxic(self, node: str, toxic_type: str, attributes: dict[str, Any], *,
                  clients: list[int] | None = None, stream: str = "downstream",
                  name: str | None = None) -> None: ...
    def remove_toxics(self, node: str, *, clients: list[int] | None = None,
                      names: Iterable[str] | None = None) -> None: ...
    def jump_clock(self, node: str, offset_s: float) -> None: ...
    def set_clock_rate(self, node: str, rate: float) -> None: ...
    def reset_clock(self, node: str) -> None: ...


class ClockUnsupported(RuntimeError):
    """The cluster cannot fake its nodes' clocks (not started with clock control, or external)."""


class ClusterShape:
    """Nodes and client slots, and the checks of a node name or a client slot given to a primitive
    (every cluster: LocalCluster, ExternalCluster, the simulator's SimCluster)."""

    node_names: list[str]
    clients: int

    def _check(self, client: int | None = None, node: str | None = None) -> None:
        if node is not None and node not in self.node_names:
            raise ValueError(f"unknown node {node!r}; nodes are {', '.join(self.node_names)}")
        if client is not None and not 0 <= client < self.clients:
            raise ValueError(f"unknown client slot {client}; slots are 0..{self.clients - 1}")

    def _toxic_name(self, node: str, toxic_type: str, stream: str, name: str | None) -> str:
        """The name of a toxic `add_toxic` puts on the node's links (checked: never a cut's)."""
        self._check(node=node)
        toxic_name = name or f"{toxic_type}-{stream}"
        if toxic_name in CUT_TOXICS:
            raise ValueError(f"toxic name {toxic_name!r} is reserved for cuts")
        return toxic_name

    def _client_list(self, clients: list[int] | None) -> list[int]:
        chosen = list(range(self.clients)) if clients is None else list(clients)
        for client in chosen:
            self._check(client=client)
        return chosen


class ToxicLedger:
    """The toxics `add_toxic` put on each (client, node) link, so that `remove_toxics` removes
    those (the named ones, or all) and never a cut's. Thread-safe: the nemesis and the link
    controls of client workers may touch it at once."""

    def __init__(self) -> None:
        self._names: dict[tuple[int, str], set[str]] = {}
        self._lock = threading.Lock()

    def add(self, client: int, node: str, toxic_name: str) -> None:
        with self._lock:
            self._names.setdefault((client, node), set()).add(toxic_name)

    def take(self, client: int, node: str, names: Iterable[str] | None) -> list[str]:
        """Forget and return (sorted) the link's toxics among `names` (all when None)."""
        wanted = None if names is None else set(names)
        with self._lock:
            present = self._names.get((client, node), set())
            doomed = sorted(present if wanted is None else present & wanted)
            present.difference_update(doomed)
        return doomed

    def clear(self) -> None:
        with self._lock:
            self._names.clear()


class ProxiedCluster(ClusterShape):
    """Shared part of both clusters: one proxy per (client, node), link cuts, toxics, heal.

    Subclasses provide the node processes (`kill`, `restart`, `pause`,
    `resume`, `_heal_nodes`) and fill `self._proxies` and `self._control` in
    `start()`.
    """

    def __init__(self, nodes: list[str], clients: int) -> None:
        if not nodes:
            raise ValueError("a cluster needs at least one node")
        if clients < 1:
            raise ValueError("a cluster needs at least one client slot")
        self.node_names: list[str] = list(nodes)
        self.clients: int = clients
        self.password: str | None = None
        self._control: ToxiproxyControl | None = None
        self._proxies: dict[tuple[int, str], ProxyAddress] = {}
        self._cuts: Counter[tuple[int, str]] = Counter()
        self._cut_modes: dict[tuple[int, str], str] = {}
        self._toxics = ToxicLedger()
        self._links_lock = threading.Lock()

    # -- addresses ------------------------------------------------------------
    def _url(self, host: str, port: int) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{host}:{port}/0"

    def client_urls(self, client: int) -> list[str]:
        """redis:// URLs of the client's own proxies, one per node, in node order."""
        self._check(client=client)
        if not self._proxies:
            raise RuntimeError("the cluster is not started")
        return [self._url(p.listen_host, p.listen_port)
                for p in (self._proxies[(client, node)] for node in self.node_names)]

    def proxy(self, client: int, node: str) -> ProxyAddress:
        self._check(client, node)
        return self._proxies[(client, node)]

    @property
    def control(self) -> ToxiproxyControl:
        if self._control is None:
            raise RuntimeError("the cluster is not started")
        return self._control

    def _create_proxies(self, upstreams: dict[str, str], listen: dict[tuple[int, str], str]) -> None:
        for client in range(self.clients):
            for node in self.node_names:
                self._proxies[(client, node)] = self.control.create_proxy(
                    proxy_name(client, node), upstreams[node], listen[(client, node)])

    # -- links ----------------------------------------------------------------
    def cut(self, client: int, node: str, *, mode: str = "drop") -> None:
        """Cut the client's link to the node (reference-counted; see the module docstring)."""
        self._check(client, node)
        if mode not in CUT_MODES:
            raise ValueError(f"cut mode must be one of {CUT_MODES}, not {mode!r}")
        link = (client, node)
        with self._links_lock:
            self._cuts[link] += 1
            if self._cuts[link] > 1:
                return
            self._cut_modes[link] = mode
        name = proxy_name(client, node)
        if mode == "refuse":
            self.control.disable(name)
        else:
            for toxic, stream in zip(CUT_TOXICS, ("upstream", "downstream")):
                self.control.add_toxic(name, "timeout", toxic_name=toxic, stream=stream,
                                       attributes={"timeout": 0})

    def connect(self, client: int, node: str) -> None:
        """Undo one `cut` of the link; the link is up again when no cut holds it."""
        self._check(client, node)
        link = (client, node)
        with self._links_lock:
            if self._cuts[link] > 1:
                self._cuts[link] -= 1
                return
            self._cuts.pop(link, None)
            mode = self._cut_modes.pop(link, None)
        name = proxy_name(client, node)
        if mode in (None, "refuse"):
            self.control.enable(name)
        if mode in (None, "drop"):
            for toxic in CUT_TOXICS:
                self.control.remove_toxic(name, toxic)

    def is_cut(self, client: int, node: str) -> bool:
        return self._cuts[(client, node)] > 0

    def cut_links(self) -> dict[int, list[str]]:
        """client -> nodes it is currently cut from (only clients with cuts)."""
        out: dict[int, list[str]] = {}
        for (client, node), count in sorted(self._cuts.items()):
            if count > 0:
                out.setdefault(client, []).append(node)
        return out

    # -- toxics ---------------------------------------------------------------
    def add_toxic(self, node: str, toxic_type: str, attributes: dict[str, Any], *,
                  clients: list[int] | None = None, stream: str = "downstream",
                  name: str | None = None) -> None:
        """Add a toxic to the node's proxies of the given clients (all when None)."""
        toxic_name = self._toxic_name(node, toxic_type, stream, name)
        for client in self._client_list(clients):
            self.control.add_toxic(proxy_name(client, node), toxic_type, toxic_name=toxic_name,
                                   stream=stream, attributes=dict(attributes))
            self._toxics.add(client, node, toxic_name)

    def remove_toxics(self, node: str, *, clients: list[int] | None = None,
                      names: Iterable[str] | None = None) -> None:
        """Remove toxics added by `add_toxic` (the named ones, or all) — never the cut toxics."""
        self._check(node=node)
        for client in self._client_list(clients):
            for toxic_name in self._toxics.take(client, node, names):
                self.control.remove_toxic(proxy_name(client, node), toxic_name)

    # -- heal -----------------------------------------------------------------
    def heal_links(self) -> None:
        """Every proxy enabled, every toxic (cuts included) removed."""
        with self._links_lock:
            self._cuts.clear()
            self._cut_modes.clear()
            self._toxics.clear()
        if self._control is not None:
            self._control.reset()

    def _heal_nodes(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def heal(self) -> None:
        """All links up, toxics removed, paused nodes resumed, killed nodes restarted (keeping data)."""
        self.heal_links()
        self._heal_nodes()
