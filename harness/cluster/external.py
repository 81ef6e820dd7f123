"""A cluster that runs elsewhere (e.g. the docker-compose one): nodes and a Toxiproxy at given addresses.

The harness starts nothing: it creates one proxy per (client slot, node)
through the remote Toxiproxy, listening on `proxy_listen_host` at port
`proxy_base_port + client * N + node_index` (a port range the Toxiproxy
container publishes), which the clients reach as `proxy_client_host`. Node
processes are hurt by shell commands rendered from templates with the fields
{node} (node name), {host}, {port} and {service} (node's service name, e.g. the
compose service), e.g.

    kill:          "docker compose kill -s SIGKILL {service}"
    restart:       "docker compose start {service}"
    restart_empty: "docker compose rm -sf {service} && docker compose up -d {service}"
    pause:         "docker compose pause {service}"
    resume:        "docker compose unpause {service}"

Every field value is shell-quoted before it is substituted, so a node name
cannot inject a command; the template itself is trusted (it is the user's).
A command that is not configured raises ClusterCommandError when a fault needs
it — configure the ones the scenario's faults use.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import signal
import string
import subprocess
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.cluster.base import ClockUnsupported, ProxiedCluster, proxy_name
from harness.cluster.toxiproxy import ToxiproxyControl

log = logging.getLogger(__name__)

COMMANDS = ("kill", "restart", "restart_empty", "pause", "resume")
TEMPLATE_FIELDS = frozenset({"node", "host", "port", "service"})


class ClusterCommandError(RuntimeError):
    """A node command is missing, failed or timed out (carries the command and its output)."""


class ExternalNode(BaseModel):
    """One Redis node of an external cluster."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    host: str                            # where the harness reaches the node directly
    port: int = Field(default=6379, ge=1, le=65535)
    upstream: str | None = None          # where Toxiproxy reaches it; default host:port
    service: str | None = None           # name used by the commands; default the node name

    @property
    def upstream_address(self) -> str:
        return self.upstream or f"{self.host}:{self.port}"

    @property
    def service_name(self) -> str:
        return self.service or self.name


class ExternalClusterConfig(BaseModel):
    """The `cluster` section of an `external` scenario (the scenario schema embeds it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Literal["external"] = "external"
    nodes: list[ExternalNode] = Field(min_length=1)
    toxiproxy_url: str = Field(pattern=r"^https?://")
    proxy_listen_host: str = "0.0.0.0"
    proxy_client_host: str = "127.0.0.1"
    proxy_base_port: int = Field(default=20000, ge=1, le=65535)
    password: str | None = None
    commands: dict[str, str] = Field(default_factory=dict)
    command_timeout: float = Field(default=60.0, gt=0)

    @field_validator("commands")
    @classmethod
    def _known_commands(cls, commands: dict[str, str]) -> dict[str, str]:
        for name, template in commands.items():
            if name not in COMMANDS:
                raise ValueError(f"unknown command {name!r}; known: {', '.join(COMMANDS)}")
            unknown = template_fields(template) - TEMPLATE_FIELDS
            if unknown:
                raise ValueError(f"command {name!r} uses unknown field(s) "
                                 f"{', '.join(sorted(unknown))}; known: {', '.join(sorted(TEMPLATE_FIELDS))}")
        return commands

    @model_validator(mode="after")
    def _unique_names(self) -> "ExternalClusterConfig":
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ValueError(f"node names must be unique: {names}")
        return self


def template_fields(template: str) -> set[str]:
    """The {field} names a command template uses (ValueError if it is malformed)."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def render_command(template: str, node: ExternalNode) -> str:
    """The shell command for a node, every field value shell-quoted."""
    values = {"node": node.name, "host": node.host, "port": str(node.port),
              "service": node.service_name}
    return template.format(**{k: shlex.quote(v) for k, v in values.items()})


Runner = Callable[[str, float], "subprocess.CompletedProcess[str]"]


def run_shell(command: str, timeout: float) -> "subprocess.CompletedProcess[str]":
    """Run a command with /bin/sh in its own process group; on timeout the whole group is killed."""
    proc = subprocess.Popen(["/bin/sh", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group we created for this command only
        proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


class ExternalCluster(ProxiedCluster):
    """`ExternalCluster(config, clients)`; `runner` (for tests) runs a rendered shell command."""

    def __init__(self, config: ExternalClusterConfig, clients: int, *, runner: Runner = run_shell) -> None:
        super().__init__([n.name for n in config.nodes], clients)
        self.config = config
        self.password = config.password
        self._nodes = {n.name: n for n in config.nodes}
        self._runner = runner
        self._killed: set[str] = set()
        self._paused: set[str] = set()

    def listen_address(self, client: int, node: str) -> str:
        index = self.node_names.index(node)
        port = self.config.proxy_base_port + client * len(self.node_names) + index
        return f"{self.config.proxy_listen_host}:{port}"

    def start(self) -> None:
        """Create the proxies on the remote Toxiproxy (the nodes are already running)."""
        self._control = ToxiproxyControl(self.config.toxiproxy_url)
        self._control.reset()
        self._create_proxies(
            upstreams={n: self._nodes[n].upstream_address for n in self.node_names},
            listen={(c, n): self.listen_address(c, n)
                    for c in range(self.clients) for n in self.node_names})
        # Clients reach the proxies through the published host, not the listen address.
        for key, address in list(self._proxies.items()):
            self._proxies[key] = dataclasses.replace(address, listen_host=self.config.proxy_client_host)

    def stop(self) -> None:
        """Remove the proxies this cluster created; the nodes keep running (they are not ours)."""
        if self._control is None:
            return
        try:
            self.heal()
        except Exception:
            log.exception("healing the external cluster at stop failed")
        for client, node in list(self._proxies):
            try:
                self._control.delete_proxy(proxy_name(client, node))
            except Exception:
                log.exception("deleting proxy c%s-%s failed", client, node)
        self._control.close()
        self._control = None
        self._proxies.clear()

    def direct_urls(self) -> list[str]:
        return [self._url(self._nodes[n].host, self._nodes[n].port) for n in self.node_names]

    # -- node commands --------------------------------------------------------
    def command_for(self, action: str, node: str) -> str:
        self._check(node=node)
        template = self.config.commands.get(action)
        if template is None:
            raise ClusterCommandError(f"no '{action}' command configured for the external cluster; "
                                      f"add cluster.commands.{action} to the scenario")
        return render_command(template, self._nodes[node])

    def _run(self, action: str, node: str) -> None:
        command = self.command_for(action, node)
        try:
            done = self._runner(command, self.config.command_timeout)
        except subprocess.TimeoutExpired as exc:
            raise ClusterCommandError(f"{action} {node}: `{command}` timed out after "
                                      f"{self.config.command_timeout}s") from exc
        if done.returncode != 0:
            raise ClusterCommandError(f"{action} {node}: `{command}` exited {done.returncode}: "
                                      f"{(done.stderr or done.stdout or '').strip()[:300]}")

    def kill(self, node: str) -> None:
        self._run("kill", node)
        self._killed.add(node)

    def restart(self, node: str, *, empty: bool = False) -> None:
        self._run("restart_empty" if empty else "restart", node)
        self._killed.discard(node)

    def pause(self, node: str) -> None:
        self._run("pause", node)
        self._paused.add(node)

    def resume(self, node: str) -> None:
        self._run("resume", node)
        self._paused.discard(node)

    # -- clocks ---------------------------------------------------------------
    def _no_clock(self, node: str) -> None:
        self._check(node=node)
        raise ClockUnsupported("clock faults need nodes started by the harness (cluster mode local); "
                               "an external cluster's node clocks cannot be changed")

    def jump_clock(self, node: str, offset_s: float) -> None:
        self._no_clock(node)

    def set_clock_rate(self, node: str, rate: float) -> None:
        self._no_clock(node)

    def reset_clock(self, node: str) -> None:
        self._no_clock(node)

    def _heal_nodes(self) -> None:
        for node in sorted(self._paused):
            self.resume(node)
        for node in sorted(self._killed):
            self.restart(node)
