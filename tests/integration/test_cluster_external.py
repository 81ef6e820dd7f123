"""ExternalCluster: config, command templating, and proxies through a real Toxiproxy to real nodes.

Docker does not run here, so the "external" cluster is made of the conftest fixtures'
redis-server nodes and toxiproxy-server; node commands are real shell commands
(redis-cli) or a recording runner.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess

import pytest
from pydantic import ValidationError

from harness.cluster.base import Cluster
from harness.cluster.external import (
    ClusterCommandError,
    ExternalCluster,
    ExternalClusterConfig,
    ExternalNode,
    render_command,
)
from tests.support.probes import ping_outcome as outcome

pytestmark = pytest.mark.integration

COMPOSE = {"kill": "docker compose kill -s SIGKILL {service}",
           "restart": "docker compose start {service}",
           "restart_empty": "docker compose rm -sf {service} && docker compose up -d {service}",
           "pause": "docker compose pause {service}",
           "resume": "docker compose unpause {service}"}



class Recorder:
    def __init__(self, returncode: int = 0, stderr: str = "") -> None:
        self.commands: list[str] = []
        self.returncode = returncode
        self.stderr = stderr

    def __call__(self, command: str, timeout: float) -> subprocess.CompletedProcess:
        self.commands.append(command)
        return subprocess.CompletedProcess(command, self.returncode, "", self.stderr)


def free_port_range(count: int) -> int:
    """A base port with `count` consecutive free ports, below the kernel's ephemeral range
    (where other processes' outgoing connections would race us for them)."""
    for _ in range(200):
        base = random.randrange(20000, 30000 - count)
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range found")


def config_for(redis3, toxiproxy, commands=None, **extra) -> ExternalClusterConfig:
    return ExternalClusterConfig.model_validate({
        "nodes": [{"name": s.name, "host": s.host, "port": s.port, "service": f"redis{i + 1}"}
                  for i, s in enumerate(redis3.servers)],
        "toxiproxy_url": toxiproxy.api_url, "proxy_listen_host": "127.0.0.1",
        "proxy_base_port": free_port_range(6), "commands": commands or COMPOSE, **extra})


# -- config and templating (no servers) ------------------------------------------

def test_render_command_fills_and_quotes_fields():
    node = ExternalNode(name="n1", host="redis1", port=6379, service="redis1")
    assert render_command(COMPOSE["kill"], node) == "docker compose kill -s SIGKILL redis1"
    sneaky = ExternalNode(name="n2", host="h; rm -rf /", service="svc $(reboot)")
    assert render_command("ping {host} {service} {port}", sneaky) == \
        "ping 'h; rm -rf /' 'svc $(reboot)' 6379"
    assert render_command("x {node}", ExternalNode(name="n3", host="h")) == "x n3"


def test_config_errors_name_the_field():
    base = {"nodes": [{"name": "n1", "host": "redis1"}], "toxiproxy_url": "http://toxiproxy:8474"}
    ExternalClusterConfig.model_validate(base)
    for bad, loc in ((dict(base, commands={"kil": "x"}), ("commands",)),
                     (dict(base, commands={"kill": "x {pid}"}), ("commands",)),
                     (dict(base, toxiproxy_url="toxiproxy:8474"), ("toxiproxy_url",)),
                     (dict(base, nodes=[]), ("nodes",)),
                     (dict(base, nodes=[{"name": "n1", "host": "a"}, {"name": "n1", "host": "b"}]), ()),
                     (dict(base, nodes=[{"name": "n1", "host": "a", "prot": 1}]), ("nodes", 0, "prot"))):
        with pytest.raises(ValidationError) as info:
            ExternalClusterConfig.model_validate(bad)
        assert info.value.errors()[0]["loc"] == loc


def test_commands_are_rendered_per_node_and_failures_are_clear():
    config = ExternalClusterConfig.model_validate({
        "nodes": [{"name": "n1", "host": "redis1"}, {"name": "n2", "host": "redis2", "service": "r2"}],
        "toxiproxy_url": "http://toxiproxy:8474", "commands": COMPOSE})
    runner = Recorder()
    cluster = ExternalCluster(config, clients=2, runner=runner)
    cluster.kill("n2")
    cluster.restart("n2", empty=True)
    cluster.pause("n1")
    cluster.resume("n1")
    assert runner.commands == ["docker compose kill -s SIGKILL r2",
                               "docker compose rm -sf r2 && docker compose up -d r2",
                               "docker compose pause n1", "docker compose unpause n1"]
    failing = ExternalCluster(config, clients=1, runner=Recorder(returncode=1, stderr="no such service"))
    with pytest.raises(ClusterCommandError, match="exited 1: no such service"):
        failing.kill("n1")
    bare = ExternalCluster(config.model_copy(update={"commands": {}}), clients=1, runner=Recorder())
    with pytest.raises(ClusterCommandError, match="add cluster.commands.pause"):
        bare.pause("n1")


def test_a_hanging_command_times_out():
    config = ExternalClusterConfig.model_validate({
        "nodes": [{"name": "n1", "host": "redis1"}], "toxiproxy_url": "http://t:8474",
        "commands": {"kill": "sleep 5"}, "command_timeout": 0.2})
    with pytest.raises(ClusterCommandError, match="timed out"):
        ExternalCluster(config, clients=1).kill("n1")


# -- against real servers ----------------------------------------------------------

def test_proxies_on_the_configured_ports_reach_the_nodes_and_cut_works(redis3, toxiproxy):
    config = config_for(redis3, toxiproxy)
    cluster = ExternalCluster(config, clients=2, runner=Recorder())
    cluster.start()
    try:
        assert isinstance(cluster, Cluster)
        base = config.proxy_base_port
        assert [p.listen_port for p in (cluster.proxy(1, n) for n in cluster.node_names)] == \
            [base + 3, base + 4, base + 5]
        assert cluster.client_urls(1)[0] == f"redis://127.0.0.1:{base + 3}/0"
        assert all(outcome(u) == "ok" for c in range(2) for u in cluster.client_urls(c))
        assert cluster.direct_urls() == redis3.urls
        cluster.cut(0, "n2")
        assert outcome(cluster.client_urls(0)[1]) == "timeout"
        assert outcome(cluster.client_urls(1)[1]) == "ok"
        cluster.add_toxic("n1", "latency", {"latency": 10}, clients=[1])
        assert toxiproxy.toxics("c1-n1") == ["latency-downstream"]
        cluster.heal()
        assert toxiproxy.toxics("c1-n1") == [] and outcome(cluster.client_urls(0)[1]) == "ok"
    finally:
        cluster.stop()
    assert toxiproxy.proxies() == {}  # stop removes what it created


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli not installed")
def test_kill_command_really_kills_and_heal_runs_restart(redis3, toxiproxy):
    commands = {"kill": "redis-cli -h {host} -p {port} shutdown nosave", "restart": "true"}
    runner_log: list[str] = []

    def runner(command: str, timeout: float) -> subprocess.CompletedProcess:
        runner_log.append(command)
        return subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=timeout)

    cluster = ExternalCluster(config_for(redis3, toxiproxy, commands), clients=1, runner=runner)
    cluster.start()
    try:
        cluster.kill("n3")
        assert outcome(cluster.client_urls(0)[2]) == "error"
        assert outcome(redis3.urls[2]) == "error"
        cluster.heal()
        assert runner_log[-1] == "true"  # heal restarted the killed node with the restart command
    finally:
        cluster.stop()
