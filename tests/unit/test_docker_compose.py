"""docker-compose.yml (Docker does not run here): it parses, and every service, host and
container that scenarios/external.yaml names exists in it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from harness.cluster.external import render_command
from harness.scenario.loader import load_scenario

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def external():  # type: ignore[no-untyped-def]
    scenario = load_scenario(REPO / "scenarios" / "external.yaml").scenario
    assert scenario.cluster.mode == "external"
    return scenario


def test_five_redis_nodes_a_toxiproxy_and_the_harness(compose: dict) -> None:
    services = compose["services"]
    redis = [name for name, s in services.items() if str(s.get("image", "")).startswith("redis:")]
    assert len(redis) == 5
    assert services["toxiproxy"]["image"] == "ghcr.io/shopify/toxiproxy:2.12.0"
    for name in redis:  # merge keys resolved: every node has the persistence flags and a healthcheck
        assert "--appendfsync" in services[name]["command"] and "healthcheck" in services[name]


def test_harness_runs_the_external_scenario(compose: dict) -> None:
    harness = compose["services"]["harness"]
    command = " ".join(harness["command"]) if isinstance(harness["command"], list) else harness["command"]
    assert "python -m harness run scenarios/external.yaml" in command
    assert (REPO / "scenarios" / "external.yaml").is_file()
    assert set(harness["depends_on"]) >= {"toxiproxy", "redis1", "redis5"}
    assert "/var/run/docker.sock:/var/run/docker.sock" in harness["volumes"]  # the node commands need it


def test_every_name_the_scenario_uses_exists(compose: dict, external) -> None:  # type: ignore[no-untyped-def]
    services = compose["services"]
    containers = {s.get("container_name"): name for name, s in services.items() if s.get("container_name")}
    cluster = external.cluster
    for node in cluster.nodes:
        assert node.host in services, f"node {node.name}: no service {node.host!r}"
        assert node.upstream_address.split(":")[0] in services
        assert node.service_name in containers, f"node {node.name}: no container {node.service_name!r}"
        assert containers[node.service_name] == node.host  # the commands hurt the node the clients use
    assert urlparse(cluster.toxiproxy_url).hostname in services
    assert cluster.proxy_client_host in services
    assert set(cluster.commands) >= {"kill", "restart", "pause", "resume"}
    rendered = render_command(cluster.commands["kill"], cluster.nodes[0])
    assert "/containers/mr-redis1/kill" in rendered


def test_the_scenario_fits_the_toxiproxy_port_range(external) -> None:  # type: ignore[no-untyped-def]
    cluster = external.cluster
    last = cluster.proxy_base_port + external.clients * len(cluster.nodes) - 1
    assert last <= 65535 and cluster.proxy_base_port >= 1024


def test_shell_opens_the_harness_shell_on_the_compose_nodes(compose: dict) -> None:
    from harness.cli import build_parser

    services = compose["services"]
    shell = services["shell"]
    assert shell["profiles"] == ["shell"]  # `docker compose up` (the harness run) must not start it
    assert shell["stdin_open"] is True and shell["tty"] is True
    assert set(shell["depends_on"]) == set(services["harness"]["depends_on"])
    assert shell["volumes"] == services["harness"]["volumes"]  # the repository, and the socket the commands use
    script = shell["command"][-1]
    assert "'.[harness,shell]'" in script  # IPython comes with the shell extra
    command = script.rsplit("exec ", 1)[1].split()
    assert command[:4] == ["python", "-m", "harness", "shell"]
    args = build_parser().parse_args(command[3:])  # the command line the CLI really accepts
    assert args.command == "shell" and args.cluster == Path("scenarios/external.yaml")
    assert (REPO / args.cluster).is_file()
