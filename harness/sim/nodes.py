"""Simulated Redis nodes: a `SimRedis` keyspace behind a process with a clock, crashes and pauses.

A `NodeHost` is what a redis-server process is to the real cluster: it is
up, down (killed) or paused (SIGSTOP), it executes one command at a time (a
small service time each), and it reads its own wall clock (`NodeClock`),
which the nemesis can jump or run at another rate; key expiry follows that
clock, exactly as redis-server 7 expires keys on its wall clock.

Restarts: `restart(keep)` with keep "all" (appendfsync always), "none"
(empty: no persistence) or a number of seconds of the most recent writes
lost (appendfsync everysec loses up to ~1 s). Every restart loses the script
cache, so the next EVALSHA there answers NOSCRIPT.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from harness.sim.clocks import SkewableClock
from harness.sim.kernel import Kernel
from harness.sim.node import SimRedis

SIM_EPOCH_S = 1_800_000_000.0  # the wall clocks' reading at virtual time 0 (a fixed date: runs replay)
SERVICE_TIME_S = 10e-6          # a command's time on the node (redis-server does ~100k simple ops/s)


class NodeClock(SkewableClock):
    """A node's wall clock: the epoch plus virtual time (plus the node's small fixed skew), which
    the nemesis can jump or re-rate; `ms()` is what the node's keyspace reads."""

    def __init__(self, kernel: Kernel, skew_s: float = 0.0) -> None:
        super().__init__(kernel, SIM_EPOCH_S + skew_s)

    def ms(self) -> int:
        return int(self.read() * 1000)


Reply = Callable[[Any], None]


class NodeHost:
    """One simulated redis-server process (see the module docstring)."""

    def __init__(self, kernel: Kernel, name: str, *, skew_s: float = 0.0, server: Any = None) -> None:
        """`server` replaces the SimRedis keyspace (anything with execute(args) and restart(keep=))."""
        self.kernel = kernel
        self.name = name
        self.clock = NodeClock(kernel, skew_s)
        self.server = server if server is not None else SimRedis(self.clock.ms, journal_clock=lambda: kernel.now)
        self.up = True
        self.paused = False
        self.incarnation = 0  # +1 per restart: connections of an older incarnation are dead
        self.commands_run = 0
        self._busy_until = 0.0
        self._held: list[tuple[tuple[Any, ...], Reply]] = []  # arrived while paused

    def arrive(self, args: tuple[Any, ...], reply: Reply) -> None:
        """A request reaches the node now; `reply(value)` is called when it has run (or failed)."""
        if not self.up:
            reply(RedisConnectionError(f"Connection refused: node {self.name} is down"))
            return
        if self.paused:
            self._held.append((args, reply))
            return
        start = max(self.kernel.now, self._busy_until)
        self._busy_until = start + SERVICE_TIME_S
        if start > self.kernel.now:
            self.kernel.call_at(start, lambda: self._run(args, reply))
        else:
            self._run(args, reply)

    def _run(self, args: tuple[Any, ...], reply: Reply) -> None:
        if not self.up or self.paused:  # killed or stopped while the command waited its turn
            self.arrive(args, reply)
            return
        self.commands_run += 1
        value = "OK" if args[0] == "__CONNECT__" else self.server.execute(args)
        reply(value)

    # -- process faults ---------------------------------------------------------------------
    def kill(self) -> None:
        self.up = False
        held, self._held = self._held, []
        for _args, reply in held:  # queued in a stopped process's socket buffers: the connection dies
            reply(RedisConnectionError(f"Connection closed: node {self.name} was killed"))

    def restart(self, keep: str | float = "all") -> None:
        """Start again (see the module docstring for `keep`); the node comes back unpaused."""
        self.server.restart(keep=keep)
        self.up = True
        self.paused = False
        self.incarnation += 1

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        held, self._held = self._held, []
        for args, reply in held:
            self.arrive(args, reply)
