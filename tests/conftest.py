"""Fixtures that start real servers: N `redis-server` processes and a `toxiproxy-server`.

Every server is started on a free loopback port in a tmp dir and always killed
at teardown (pytest runs finalizers on failure and on Ctrl-C; the processes
also die with the test process, see harness.cluster.processes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.cluster.processes import RedisServer, TlsFiles, ToxiproxyServer
from harness.cluster.toxiproxy import ProxyAddress, ToxiproxyControl
from majorityredis.admission import bootstrap_command


@dataclass
class RedisNodes:
    """Running redis-server nodes of one test, with helpers to reach and hurt them."""

    servers: list[RedisServer]
    password: str | None = None
    tls: TlsFiles | None = None
    _clients: list[redis.Redis] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    def clients(self, socket_timeout: float = 0.5) -> list[redis.Redis]:
        """Fresh redis-py clients, one per node (closed at teardown)."""
        tls = {"ssl": True, "ssl_ca_certs": str(self.tls.ca)} if self.tls else {}
        made = [redis.Redis(host=s.host, port=s.port, password=self.password,
                            socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout,
                            retry=Retry(NoBackoff(), 0), **tls)
                for s in self.servers]
        self._clients.extend(made)
        return made

    def direct(self, i: int) -> redis.Redis:
        """A client to node i for inspecting its state in assertions."""
        return self.clients()[i]

    def bootstrap(self, *indexes: int) -> None:
        """Admit nodes `indexes` (default all) as members of a new cluster (what
        `MajorityRedis.bootstrap_new_cluster` writes), so tests do not wait one recovery
        period (majorityredis.admission)."""
        for i in indexes or range(len(self.servers)):
            self.direct(i).execute_command(*bootstrap_command().args)

    def close(self) -> None:
        for client in self._clients:
            client.close()
        for server in self.servers:
            server.stop()


def start_nodes(n: int, base: Path, *, password: str | None = None,
                persistence: str = "none", tls: TlsFiles | None = None, bootstrap: bool = True) -> RedisNodes:
    servers = [RedisServer(f"n{i + 1}", base / f"n{i + 1}", password=password, persistence=persistence,
                           tls=tls)
               for i in range(n)]
    nodes = RedisNodes(servers, password, tls)
    try:
        for server in servers:
            server.start()
        if bootstrap:
            nodes.bootstrap()
    except BaseException:
        nodes.close()
        raise
    return nodes


@pytest.fixture
def redis_nodes(tmp_path: Path) -> Iterator:
    """Factory: `redis_nodes(n, password=None, persistence="none", tls=None, bootstrap=True) -> RedisNodes`.

    `bootstrap` admits the fresh nodes at once (majorityredis.admission); False leaves them
    as a brand-new cluster that has to wait one recovery period or be bootstrapped."""
    started: list[RedisNodes] = []

    def make(n: int, *, password: str | None = None, persistence: str = "none",
             tls: TlsFiles | None = None, bootstrap: bool = True) -> RedisNodes:
        nodes = start_nodes(n, tmp_path / f"cluster{len(started)}", password=password,
                            persistence=persistence, tls=tls, bootstrap=bootstrap)
        started.append(nodes)
        return nodes

    yield make
    for nodes in started:
        nodes.close()


@pytest.fixture
def redis3(redis_nodes) -> RedisNodes:  # type: ignore[no-untyped-def]
    """Three real redis-server nodes."""
    return redis_nodes(3)


@pytest.fixture
def redis5(redis_nodes) -> RedisNodes:  # type: ignore[no-untyped-def]
    """Five real redis-server nodes."""
    return redis_nodes(5)


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    """A throwaway CA and a certificate it signed for 127.0.0.1, as PEM files."""
    import trustme  # test-only dependency

    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    files = TlsFiles(cert=tmp_path / "server.pem", key=tmp_path / "server.key", ca=tmp_path / "ca.pem")
    issued.cert_chain_pems[0].write_to_path(str(files.cert))
    issued.private_key_pem.write_to_path(str(files.key))
    ca.cert_pem.write_to_path(str(files.ca))
    return files


@pytest.fixture
def toxiproxy(tmp_path: Path) -> Iterator[ToxiproxyControl]:
    """A real toxiproxy-server; yields its control (proxies are removed with the server)."""
    server = ToxiproxyServer(tmp_path / "toxiproxy.log")
    server.start()
    try:
        yield ToxiproxyControl(server.api_url)
    finally:
        server.stop()


@dataclass
class ProxiedNodes:
    """Redis nodes reached through one Toxiproxy proxy each (proxy i -> node i)."""

    nodes: RedisNodes
    control: ToxiproxyControl
    proxies: list[ProxyAddress]

    def clients(self, socket_timeout: float = 0.5) -> list[redis.Redis]:
        """redis-py clients that connect through the proxies."""
        return [redis.Redis(host=p.listen_host, port=p.listen_port, password=self.nodes.password,
                            socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout,
                            retry=Retry(NoBackoff(), 0))
                for p in self.proxies]


def _proxy(nodes: RedisNodes, control: ToxiproxyControl) -> ProxiedNodes:
    proxies = [control.create_proxy(s.name, f"{s.host}:{s.port}") for s in nodes.servers]
    return ProxiedNodes(nodes, control, proxies)


@pytest.fixture
def proxied_redis3(redis3: RedisNodes, toxiproxy: ToxiproxyControl) -> ProxiedNodes:
    """Three redis-server nodes, each behind its own Toxiproxy proxy."""
    return _proxy(redis3, toxiproxy)


@pytest.fixture
def proxied_redis5(redis5: RedisNodes, toxiproxy: ToxiproxyControl) -> ProxiedNodes:
    """Five redis-server nodes, each behind its own Toxiproxy proxy."""
    return _proxy(redis5, toxiproxy)
