"""The simulated network: one FIFO link per (client, node), with the faults Toxiproxy gives the real one.

A `Link` carries requests (upstream) and replies (downstream) between one
client and one node, each direction in order, like a TCP connection through
that pair's Toxiproxy proxy. A message's one-way delay is the link's base
latency plus a little random jitter (from the link's own random stream),
plus what the link's toxics add; a later message never overtakes an earlier
one in the same direction.

Faults, as the real cluster's primitives make them:
- cut "drop" (a `timeout` toxic with timeout 0 on both streams): messages
  sent or arriving while the cut holds are lost; the client times out;
- cut "refuse" (the proxy disabled): the connection is closed and new ones
  are refused: requests fail at once with a connection error;
- toxics by type: `latency` (latency ± jitter ms), `bandwidth` (rate KB/s:
  messages take size/rate and queue behind each other), `reset_peer`
  (a message on that stream resets the connection after `timeout` ms:
  requests in flight fail with "connection reset"), `timeout` (drop).
A connection is made on first use and after it broke (a reset, a refused
or killed node): one extra round trip through the link, ahead of the first
request, which fails with the request if the connection cannot be made.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from harness.sim.kernel import Kernel
from harness.sim.nodes import NodeHost

UPSTREAM, DOWNSTREAM = "upstream", "downstream"
CONNECT = ("__CONNECT__",)


@dataclass
class Toxic:
    type: str
    stream: str
    attributes: dict[str, Any]


@dataclass
class _Direction:
    """The state of one direction of a link: when its last message arrives (FIFO)."""

    last_arrival: float = 0.0
    busy_until: float = 0.0  # bandwidth toxics serialise messages


Callback = Callable[[Any], None]


def message_size(value: Any) -> int:
    """Approximate bytes on the wire of a command or a reply (for bandwidth toxics)."""
    if isinstance(value, (bytes, str)):
        return len(value) + 8
    if isinstance(value, (list, tuple)):
        return 8 + sum(message_size(v) for v in value)
    return 12


@dataclass
class Link:
    """The link of one client to one node (see the module docstring)."""

    kernel: Kernel
    node: NodeHost
    rng: random.Random
    base_latency_s: float
    cut: str | None = None
    toxics: dict[str, Toxic] = field(default_factory=dict)
    connected_to: int | None = None  # the node incarnation the connection was made to
    generation: int = 0              # +1 each time the connection breaks: its messages die with it
    _up: _Direction = field(default_factory=_Direction)
    _down: _Direction = field(default_factory=_Direction)
    messages: int = 0
    lost: int = 0
    connects: int = 0  # connections made: a new one means the node may have lost its script cache

    # -- the client's side -------------------------------------------------------------
    def request(self, args: tuple[Any, ...], on_reply: Callback) -> None:
        """Send a command; `on_reply(value or exception)` runs when its reply arrives — or never,
        when the request or its reply is lost (the caller's deadline covers that)."""
        if self.cut == "refuse":
            self._break()
            self.kernel.call_later(0.0, lambda: on_reply(RedisConnectionError("Connection refused")))
            return
        if self.connected_to is None or self.connected_to != self.node.incarnation or not self.node.up:
            if self.connected_to is not None:
                self._break()  # the node restarted or died under the connection
            self._connect(args, on_reply)
            return
        self._send(args, on_reply)

    def _connect(self, args: tuple[Any, ...], on_reply: Callback) -> None:
        generation = self.generation

        def connected(value: Any) -> None:
            if isinstance(value, BaseException):
                on_reply(value)
                return
            if self.generation == generation:
                self.connected_to = self.node.incarnation
                self.connects += 1
            self._send(args, on_reply)

        self._send(CONNECT, connected)

    def _break(self) -> None:
        self.connected_to = None
        self.generation += 1

    def _send(self, args: tuple[Any, ...], on_reply: Callback) -> None:
        self.messages += 1
        generation = self.generation
        arrival = self._arrival(UPSTREAM, args)
        if arrival is None:
            return
        if isinstance(arrival, _Reset):
            self.kernel.call_later(arrival.after, lambda: self._reset(on_reply, generation))
            return

        def at_node() -> None:
            if self.generation != generation or self.cut == "drop":
                self.lost += 1
                return  # the connection broke or a drop cut began while the request travelled
            self.node.arrive(args, lambda value: self._reply(value, on_reply, generation))

        self.kernel.call_at(arrival, at_node)

    def _reply(self, value: Any, on_reply: Callback, generation: int) -> None:
        if self.generation != generation:
            self.lost += 1
            return
        arrival = self._arrival(DOWNSTREAM, value)
        if arrival is None:
            return
        if isinstance(arrival, _Reset):
            self.kernel.call_later(arrival.after, lambda: self._reset(on_reply, generation))
            return

        def at_client() -> None:
            if self.generation != generation or self.cut == "drop":
                self.lost += 1
                return
            if isinstance(value, RedisConnectionError):
                self._break()  # the node hung up: the next request reconnects
            on_reply(value)

        self.kernel.call_at(arrival, at_client)

    def _reset(self, on_reply: Callback, generation: int) -> None:
        if self.generation == generation:
            self._break()
        on_reply(RedisConnectionError("Connection reset by peer"))

    def _arrival(self, stream: str, message: Any) -> float | _Reset | None:
        """When `message`, sent now on `stream`, arrives; None when it is lost; _Reset when a
        reset_peer toxic kills the connection instead."""
        if self.cut == "drop":
            self.lost += 1
            return None
        direction = self._up if stream == UPSTREAM else self._down
        now = self.kernel.now
        delay = self.base_latency_s * (1.0 + 0.2 * self.rng.random())
        sent = now
        for toxic in self.toxics.values():
            if toxic.stream != stream:
                continue
            attrs = toxic.attributes
            if toxic.type == "latency":
                jitter = float(attrs.get("jitter", 0))
                delay += max(0.0, float(attrs.get("latency", 0)) + self.rng.uniform(-jitter, jitter)) / 1000.0
            elif toxic.type == "bandwidth":
                rate = float(attrs.get("rate", 0)) * 1000.0  # KB/s -> bytes/s
                if rate > 0:
                    sent = max(sent, direction.busy_until) + message_size(message) / rate
                    direction.busy_until = sent
            elif toxic.type == "timeout":
                self.lost += 1
                return None
            elif toxic.type == "reset_peer":
                return _Reset(float(attrs.get("timeout", 0)) / 1000.0)
        arrival = max(sent + delay, direction.last_arrival)
        direction.last_arrival = arrival
        return arrival

    # -- the nemesis's side ---------------------------------------------------------------
    def set_cut(self, mode: str | None) -> None:
        """Cut ("drop" or "refuse") or restore (None) the link."""
        self.cut = mode
        if mode == "refuse":
            self._break()

    def add_toxic(self, name: str, toxic: Toxic) -> None:
        self.toxics[name] = toxic

    def remove_toxic(self, name: str) -> None:
        self.toxics.pop(name, None)


@dataclass(frozen=True)
class _Reset:
    after: float
