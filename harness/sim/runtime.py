"""Simulated client processes and the library runtime they give `MajorityRedis`.

A `ClientProcess` is one simulated client: a gate that pauses all of its
tasks at once (a GC pause, a SIGSTOP), a monotonic clock that may run at
another rate, a wall clock, and a random stream of its own. Its
`SimRuntime` implements majorityredis.runtime.Runtime on the simulation:
virtual time, seeded randomness, tasks instead of threads, and `SimFanout`
instead of sockets — so the real Lock, LockingQueue and Register run
unchanged. URLs are `sim://<client>/<node>`: the links of that client
(`SimCluster.client_urls`).

`SimFanout.call` keeps the real fan-out's contract (majorityredis.fanout):
all requests go out at once, replies are collected as they arrive, the call
returns once `done(replies)` holds, every node answered, or the deadline
(on the client's clock) passed, and nodes that did not answer by then get a
TimeoutError. Late replies are dropped; a node's commands run in call order
(one FIFO link per node); scripts go as EVAL until a reply shows them cached
on a connection, and a NOSCRIPT is answered with EVAL while the call waits.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from redis.exceptions import NoScriptError

from harness.sim.clocks import SkewableClock
from harness.sim.kernel import Gate, SimEvent, SimLock, Task
from harness.sim.nodes import SIM_EPOCH_S
from harness.sim.streams import stream
from harness.sim.world import SimWorld
from majorityredis.fanout import Command, Replies

URL_SCHEME = "sim://"
CLIENT_CLOCK_ORIGIN_S = 1000.0  # a client's monotonic clock reads this at virtual time 0


class ClientProcess:
    """One simulated client process (see the module docstring)."""

    def __init__(self, world: SimWorld, name: int | str) -> None:
        self.world = world
        self.kernel = world.kernel
        self.name = name
        self.gate = Gate()
        self.rng = stream(world.seed, "client", name)
        self.monotonic = SkewableClock(world.kernel, CLIENT_CLOCK_ORIGIN_S)
        self.tasks: list[Task] = []
        self.pause_in_call = False  # pause at the next fan-out call, between requests and replies

    # -- clocks -------------------------------------------------------------------------------
    def clock(self) -> float:
        return self.monotonic.read()

    def wall_clock(self) -> float:
        return SIM_EPOCH_S + self.clock() - CLIENT_CLOCK_ORIGIN_S

    def set_clock_rate(self, rate: float) -> None:
        self.monotonic.set_rate(rate)

    def to_virtual(self, seconds: float) -> float:
        """Virtual seconds that pass while this client's clock advances `seconds`."""
        return max(0.0, seconds) / self.monotonic.rate

    # -- tasks -----------------------------------------------------------------------------------
    def spawn(self, target: Callable[[], None], name: str) -> Task:
        task = self.kernel.spawn(target, name, gate=self.gate)
        self.tasks.append(task)
        return task

    def sleep(self, seconds: float) -> None:
        self.kernel.sleep(self.to_virtual(seconds))

    def runtime(self) -> SimRuntime:
        return SimRuntime(self)


@dataclass(frozen=True)
class SimAddress:
    """A node as one client reaches it (what `clients_from_urls` makes of a sim:// URL)."""

    client: int | str
    node: str
    socket_timeout: float

    def close(self) -> None:
        """Nothing to close: links belong to the world."""


def parse_url(url: str) -> tuple[int | str, str]:
    if not url.startswith(URL_SCHEME):
        raise ValueError(f"a simulated client takes sim://<client>/<node> URLs, not {url!r}")
    client, _, node = url[len(URL_SCHEME):].partition("/")
    if not node:
        raise ValueError(f"a sim:// URL names a client and a node: sim://<client>/<node>, not {url!r}")
    return (int(client) if client.isdigit() else client), node


class SimRuntime:
    """majorityredis.runtime.Runtime for one simulated client process."""

    def __init__(self, process: ClientProcess) -> None:
        self.process = process
        self.clock = process.clock
        self.wall_clock = process.wall_clock
        self.sleep = process.sleep

    def token_hex(self, nbytes: int) -> str:
        return self.process.rng.getrandbits(8 * nbytes).to_bytes(nbytes, "big").hex()

    def randbits(self, k: int) -> int:
        return self.process.rng.getrandbits(k)

    def random(self) -> random.Random:
        return random.Random(self.process.rng.getrandbits(64))

    def event(self) -> SimEvent:
        return SimEvent(self.process.kernel, self.process.to_virtual)

    def lock(self) -> SimLock:
        return SimLock(self.process.kernel)

    def rlock(self) -> SimLock:
        return SimLock(self.process.kernel, reentrant=True)

    def start_thread(self, target: Callable[[], None], name: str) -> Task:
        return self.process.spawn(target, name)

    def current_thread(self) -> object:
        return self.process.kernel.current_or_none()

    def clients_from_urls(self, urls: Sequence[str], *, socket_timeout: float, **kwargs: Any) -> list[SimAddress]:
        if kwargs:
            raise ValueError(f"a simulated client takes no connection options, got {sorted(kwargs)}")
        return [SimAddress(*parse_url(url), socket_timeout=socket_timeout) for url in urls]

    def default_timeout(self, clients: Sequence[Any]) -> float | None:
        return getattr(clients[0], "socket_timeout", None)

    def fanout(self, clients: Sequence[Any], *, timeout: float, clock: Callable[[], float]) -> SimFanout:
        return SimFanout(self.process, list(clients), timeout=timeout, clock=clock)

    def node_label(self, client: Any) -> str:
        return str(client.node)

    def server_identity(self, client: Any) -> tuple[Any, ...]:
        return (client.node,)


class _Call:
    """The state of one fan-out call while it waits (see SimFanout.call)."""

    __slots__ = ("replies", "waiting", "done", "task", "ticket", "open")

    def __init__(self, replies: Replies, waiting: set[int], done: Callable[[Replies], bool] | None) -> None:
        self.replies = replies
        self.waiting = waiting
        self.done = done
        self.task: Task | None = None
        self.ticket = 0
        self.open = True

    def decided(self) -> bool:
        return not self.waiting or (self.done is not None and self.done(self.replies))


class SimFanout:
    """The fan-out over simulated links (see the module docstring for its contract)."""

    def __init__(self, process: ClientProcess, addresses: list[SimAddress], *, timeout: float,
                 clock: Callable[[], float]) -> None:
        self.process = process
        self.kernel = process.kernel
        self.timeout = timeout
        self.clock = clock
        self.links = [process.world.link(a.client, a.node) for a in addresses]
        self._cached: list[set[str]] = [set() for _ in addresses]
        self._connects = [link.connects for link in self.links]

    def call(self, commands: Command | Mapping[int, Command], *, done: Callable[[Replies], bool] | None = None,
             timeout: float | None = None, n_servers: int | None = None) -> Replies:
        per_node = (dict.fromkeys(range(len(self.links)), commands) if isinstance(commands, Command)
                    else dict(commands))
        replies = Replies(n_servers if n_servers is not None else len(self.links))
        deadline = self.clock() + (self.timeout if timeout is None else timeout)
        call = _Call(replies, set(per_node), done)
        for node, command in per_node.items():
            self._send(node, command, call)
        if self.process.pause_in_call:
            self.process.pause_in_call = False
            self.process.gate.pause()  # this task runs on until it parks, then waits for the resume
        kernel = self.kernel
        while not call.decided():
            remaining = deadline - self.clock()
            if remaining <= 0:
                break
            task = kernel.current()
            call.task, call.ticket = task, kernel.next_ticket(task)
            # bound now: a later pass of this loop parks on a newer ticket, which this timer must not wake
            kernel.call_later(self.process.to_virtual(remaining), partial(kernel.wake, task, call.ticket))
            kernel.park(task, call.ticket)
            call.task = None
        call.open = False
        for node in call.waiting:
            if self.clock() >= deadline:
                replies.values.setdefault(node, TimeoutError("no reply within the deadline"))
        return replies

    def close(self) -> None:
        """Nothing to release: links belong to the world."""

    def _send(self, node: int, command: Command, call: _Call) -> None:
        link = self.links[node]
        if link.connects != self._connects[node]:  # a new connection since: maybe a restarted node
            self._connects[node] = link.connects
            self._cached[node].clear()
        args = command.args
        if command.on_noscript is not None and args[1] not in self._cached[node]:
            args = command.on_noscript
        link.request(args, lambda value: self._on_reply(node, command, call, value))

    def _on_reply(self, node: int, command: Command, call: _Call, value: Any) -> None:
        link = self.links[node]
        if link.connects != self._connects[node]:
            self._connects[node] = link.connects
            self._cached[node].clear()
        if command.on_noscript is not None:
            if isinstance(value, NoScriptError):
                self._cached[node].discard(command.args[1])
            elif not isinstance(value, BaseException):
                self._cached[node].add(command.args[1])
        if not call.open or node not in call.waiting:
            return  # a late reply: nobody waits for it
        if isinstance(value, NoScriptError) and command.on_noscript is not None:
            self._send(node, command, call)  # EVAL now: the node lost its scripts
            return
        call.replies.values[node] = value
        call.waiting.discard(node)
        if call.task is not None and call.decided():
            self.kernel.wake(call.task, call.ticket)
