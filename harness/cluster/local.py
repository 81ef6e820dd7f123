"""A cluster on this machine: N `redis-server` processes, one `toxiproxy-server`, C x N proxies.

Layout under `run_dir`: `nodes/nK/` (data dir and redis.log of node K) and
`toxiproxy.log`. Every server is started — and restarted — on the cluster's
`SpawnerThread` (see harness.cluster.processes): the servers die with that
thread, and a restart requested by the nemesis thread does not die with the
nemesis. `stop()` kills everything, is idempotent, and is what a `finally`
calls; `start()` that fails half-way stops what it started before raising.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType

from harness.cluster.base import ProxiedCluster, node_names
from harness.cluster.processes import PERSISTENCE_MODES, RedisServer, SpawnerThread, ToxiproxyServer
from harness.cluster.toxiproxy import ToxiproxyControl

log = logging.getLogger(__name__)


class LocalCluster(ProxiedCluster):
    """`LocalCluster(nodes, clients, run_dir, persistence)`; see the module docstring."""

    def __init__(self, nodes: int, clients: int, run_dir: str | Path, persistence: str = "none",
                 *, password: str | None = None) -> None:
        if persistence not in PERSISTENCE_MODES:
            raise ValueError(f"persistence must be one of {PERSISTENCE_MODES}, not {persistence!r}")
        super().__init__(node_names(nodes), clients)
        self.run_dir = Path(run_dir)
        self.persistence = persistence
        self.password = password
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

    def _heal_nodes(self) -> None:
        for name, server in self.servers.items():
            if server.paused:
                server.resume()
            if not server.is_running():
                self._spawn(server.start)
            self._killed.discard(name)
