"""A cluster on this machine: N `redis-server` processes, one `toxiproxy-server`, C x N proxies.

Layout under `run_dir`: `nodes/nK/` (data dir and redis.log of node K) and
`toxiproxy.log`; with `clock_control`, `nodes/nK.clock` is node K's clock
control file (outside its data dir: an empty restart keeps the skewed clock,
as a machine would). Every server is started — and restarted — on the cluster's
`SpawnerThread` (see harness.cluster.processes): the servers die with that
thread, and a restart requested by the nemesis thread does not die with the
nemesis. `stop()` kills everything, is idempotent, and is what a `finally`
calls; `start()` that fails half-way stops what it started before raising.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType

from harness.cluster.base import ClockUnsupported, ProxiedCluster, node_names
from harness.cluster.clock import ClockControl, clock_library
from harness.cluster.processes import PERSISTENCE_MODES, RedisServer, SpawnerThread, ToxiproxyServer
from harness.cluster.toxiproxy import ToxiproxyControl

log = logging.getLogger(__name__)


class LocalCluster(ProxiedCluster):
    """`LocalCluster(nodes, clients, run_dir, persistence)`; see the module docstring.

    `clock_control=True` starts every redis-server under the clock library (see
    harness.cluster.clock), which the clock primitives need; without it they
    raise ClockUnsupported and the nodes run exactly as before.
    """

    def __init__(self, nodes: int, clients: int, run_dir: str | Path, persistence: str = "none",
                 *, password: str | None = None, clock_control: bool = False) -> None:
        if persistence not in PERSISTENCE_MODES:
            raise ValueError(f"persistence must be one of {PERSISTENCE_MODES}, not {persistence!r}")
        super().__init__(node_names(nodes), clients)
        self.run_dir = Path(run_dir)
        self.persistence = persistence
        self.password = password
        self.clock_control = clock_control
        self.clocks: dict[str, ClockControl] = {}
        self.servers: dict[str, RedisServer] = {
            name: RedisServer(name, self.run_dir / "nodes" / name, persistence=persistence,
                              password=password)
            for name in self.node_names}
        self.toxiproxy = ToxiproxyServer(self.run_dir / "toxiproxy.log")
        self._spawner: SpawnerThread | None = None
        self._killed: set[str] = set()
        self._started = False

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            raise RuntimeError("the cluster is already started")
        self._started = True
        self._spawner = SpawnerThread(name="cluster-spawner")
        try:
            if self.clock_control:
                clock_library()  # build it (or fail with exit 4) before any process starts
                for name, server in self.servers.items():
                    server.clock = self.clocks[name] = ClockControl(self.run_dir / "nodes" / f"{name}.clock")
            for server in self.servers.values():
                self._spawner.call(server.start)
            self._spawner.call(self.toxiproxy.start)
            self._control = ToxiproxyControl(self.toxiproxy.api_url)
            self._create_proxies(
                upstreams={name: f"{s.host}:{s.port}" for name, s in self.servers.items()},
                listen={(c, n): "127.0.0.1:0" for c in range(self.clients) for n in self.node_names})
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Kill every process this cluster started; idempotent; never raises for a dead process."""
        for server in self.servers.values():
            try:
                server.stop()
            except Exception:  # keep going: the others must die too
                log.exception("stopping %s failed", server.name)
        try:
            self.toxiproxy.stop()
        except Exception:
            log.exception("stopping toxiproxy-server failed")
        if self._control is not None:
            self._control.close()
        if self._spawner is not None:
            self._spawner.close()
        for clock in self.clocks.values():
            clock.close()
        self._killed.clear()

    def __enter__(self) -> "LocalCluster":
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def pids(self) -> list[int]:
        """Pids of every live process of the cluster (for leak checks)."""
        pids = [s.pid for s in self.servers.values() if s.is_running()]
        if self.toxiproxy.is_running():
            pids.append(self.toxiproxy.pid)
        return [p for p in pids if p is not None]

    # -- addresses ------------------------------------------------------------
    def direct_urls(self) -> list[str]:
        return [self.servers[name].url for name in self.node_names]

    # -- node faults ----------------------------------------------------------
    def _server(self, node: str) -> RedisServer:
        self._check(node=node)
        return self.servers[node]

    def _spawn(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self._spawner is None:
            raise RuntimeError("the cluster is not started")
        return self._spawner.call(fn, *args, **kwargs)

    def kill(self, node: str) -> None:
        """SIGKILL the node's redis-server (its proxies stay up: clients see refused upstreams)."""
        self._server(node).kill()
        self._killed.add(node)

    def restart(self, node: str, *, empty: bool = False) -> None:
        """Start the node again on its port, with its data (AOF) or empty; waits until it answers."""
        self._spawn(self._server(node).restart, empty=empty)
        self._killed.discard(node)

    def pause(self, node: str) -> None:
        self._server(node).pause()

    def resume(self, node: str) -> None:
        self._server(node).resume()

    def is_running(self, node: str) -> bool:
        return self._server(node).is_running()

    # -- clocks ---------------------------------------------------------------
    def clock(self, node: str) -> ClockControl:
        """The node's clock control (ClockUnsupported without clock control)."""
        self._check(node=node)
        if node not in self.clocks:
            raise ClockUnsupported("this cluster's nodes run on the real clock: start it with "
                                   "clock_control=True (a run does when its scenario has a clock fault)")
        return self.clocks[node]

    def jump_clock(self, node: str, offset_s: float) -> None:
        """Add `offset_s` seconds (negative: back) to the node's wall clock from now."""
        self.clock(node).jump(offset_s)

    def set_clock_rate(self, node: str, rate: float) -> None:
        """The node's wall clock advances at `rate` from now, continuing from its current reading."""
        self.clock(node).set_rate(rate)

    def reset_clock(self, node: str) -> None:
        """The node's wall clock back to real time."""
        self.clock(node).reset()

    def _heal_nodes(self) -> None:
        for clock in self.clocks.values():
            clock.reset()
        for name, server in self.servers.items():
            if server.paused:
                server.resume()
            if not server.is_running():
                self._spawn(server.start)
            self._killed.discard(name)
