"""The `cluster` object of the interactive shell: hurt and heal nodes by number, see what is hurt.

    cluster.kill(1); cluster.restart(1)        # SIGKILL n1's redis-server, start it again with its data
    cluster.pause(2); cluster.resume(2)        # SIGSTOP / SIGCONT
    cluster.partition(3, 4)                    # cut the shell client's links to n3 and n4
    cluster.latency(200)                       # +200 ms on every link of the shell client (0: none)
    cluster.heal()                             # everything back: links, toxics, paused and killed nodes
    cluster.status()                           # one line per node: up / killed / paused, cut, latency

Nodes are numbered 1..N as their names n1..nN (the names work too). Link
faults act on one client slot's proxies (the slot `mr` uses), as a partition
between that client and the nodes; node faults act on the processes. Every
method is a thin call into the cluster (LocalCluster or ExternalCluster), so
the shell hurts nodes exactly as a scenario's nemesis does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

LATENCY_TOXIC = "shell-latency"


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """One node as `status()` reports it."""

    number: int
    name: str
    state: str            # "up", "killed" or "paused"
    cut: bool             # the shell client's link to the node is cut
    latency_ms: int       # latency added to that link (0: none)
    address: str          # where the node itself listens (host:port)
    pid: int | None       # the redis-server's pid (local clusters only)


class ClusterStatus(tuple):  # type: ignore[type-arg]
    """A tuple of NodeStatus whose repr is a table (what the shell prints)."""

    def __repr__(self) -> str:
        rows = [("node", "state", "link", "latency", "address", "pid")]
        for s in self:
            rows.append((s.name, s.state, "CUT" if s.cut else "ok", f"{s.latency_ms} ms" if s.latency_ms else "-",
                         s.address, str(s.pid) if s.pid is not None else "-"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)

    __str__ = __repr__


class ClusterControls:
    """Fault controls over a started cluster for one client slot (see the module docstring)."""

    def __init__(self, cluster: Any, client: int = 0) -> None:
        self._cluster = cluster
        self._client = client
        self._killed: set[str] = set()   # for clusters whose processes we cannot look at
        self._paused: set[str] = set()
        self._latency_ms = 0

    @property
    def nodes(self) -> list[str]:
        return list(self._cluster.node_names)

    def node(self, which: int | str) -> str:
        """The node name of `which`: a number 1..N or a name such as "n2"; ValueError otherwise."""
        names = self._cluster.node_names
        if isinstance(which, bool) or not isinstance(which, (int, str)):
            raise TypeError(f"a node is a number 1..{len(names)} or a name ({', '.join(names)}), not {which!r}")
        if isinstance(which, int):
            if not 1 <= which <= len(names):
                raise ValueError(f"node numbers are 1..{len(names)} (n1..n{len(names)}), not {which}")
            return str(names[which - 1])
        if which not in names:
            raise ValueError(f"unknown node {which!r}; nodes are {', '.join(names)}")
        return which

    # -- node faults ------------------------------------------------------------
    def kill(self, which: int | str) -> None:
        """SIGKILL the node's redis-server (its proxy stays up: clients see refused connections)."""
        name = self.node(which)
        self._cluster.kill(name)
        self._killed.add(name)
        self._paused.discard(name)

    def restart(self, which: int | str, empty: bool = False) -> None:
        """Start the node again on its port: with its data (appendonly), or `empty`; waits until it answers."""
        name = self.node(which)
        self._cluster.restart(name, empty=empty)
        self._killed.discard(name)
        self._paused.discard(name)

    def pause(self, which: int | str) -> None:
        """SIGSTOP the node: connections stay open, nothing is answered (clients time out)."""
        name = self.node(which)
        self._cluster.pause(name)
        self._paused.add(name)

    def resume(self, which: int | str) -> None:
        """SIGCONT a paused node."""
        name = self.node(which)
        self._cluster.resume(name)
        self._paused.discard(name)

    # -- link faults ------------------------------------------------------------
    def partition(self, *which: int | str) -> None:
        """Cut the shell client's links to these nodes (data is dropped: calls to them time out)."""
        if not which:
            raise ValueError("partition(i, ...) needs at least one node")
        for name in [self.node(w) for w in which]:
            if not self._cluster.is_cut(self._client, name):
                self._cluster.cut(self._client, name)

    def latency(self, ms: int, jitter_ms: int = 0) -> None:
        """Delay every reply to the shell client by `ms` (+/- `jitter_ms`); `latency(0)` removes it."""
        if ms < 0 or jitter_ms < 0:
            raise ValueError(f"latency and jitter must be >= 0 ms, not {ms}, {jitter_ms}")
        for name in self._cluster.node_names:
            if ms == 0:
                self._cluster.remove_toxics(name, clients=[self._client], names=[LATENCY_TOXIC])
            else:
                self._cluster.add_toxic(name, "latency", {"latency": int(ms), "jitter": int(jitter_ms)},
                                        clients=[self._client], name=LATENCY_TOXIC)
        self._latency_ms = int(ms)

    def heal(self) -> None:
        """Links up, latency removed, paused nodes resumed, killed nodes restarted with their data."""
        self._cluster.heal()
        self._killed.clear()
        self._paused.clear()
        self._latency_ms = 0

    # -- looking ----------------------------------------------------------------
    def status(self) -> ClusterStatus:
        """One NodeStatus per node; printed, a table."""
        rows = []
        urls = self._cluster.direct_urls()
        for number, name in enumerate(self._cluster.node_names, start=1):
            state, pid = self._state(name)
            address = urlparse(urls[number - 1])
            rows.append(NodeStatus(number, name, state, self._cluster.is_cut(self._client, name),
                                   self._latency_ms, f"{address.hostname}:{address.port}", pid))
        return ClusterStatus(rows)

    def _state(self, name: str) -> tuple[str, int | None]:
        servers = getattr(self._cluster, "servers", None)
        if servers is not None:  # a local cluster: ask the process itself
            server = servers[name]
            if not server.is_running():
                return "killed", None
            return ("paused" if server.paused else "up"), server.pid
        if name in self._killed:
            return "killed", None
        return ("paused" if name in self._paused else "up"), None

    def pids(self) -> list[int]:
        """Pids of every live process of a local cluster (redis-servers and toxiproxy-server)."""
        pids = getattr(self._cluster, "pids", None)
        return list(pids()) if callable(pids) else []

    def __repr__(self) -> str:
        return f"<cluster of {len(self._cluster.node_names)} nodes; cluster.status() for details>"
