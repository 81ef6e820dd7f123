"""`MajorityRedis`: N independent Redis servers used as one, by majority vote."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from majorityredis import arguments
from majorityredis.admission import DEFAULT_MAX_TTL
from majorityredis.liveness import NotingFanout, Silence
from majorityredis.quorum import Tally, quorum_size
from majorityredis.runtime import REAL, Runtime

if TYPE_CHECKING:
    from majorityredis.lock import Lock
    from majorityredis.queue import LockingQueue
    from majorityredis.register import Register

log = logging.getLogger("majorityredis")


class MajorityRedis:
    """Majority-quorum operations over independent Redis servers (no replication between them).

    `clients` are redis-py clients, one per server; `n_servers` (default
    `len(clients)`) is the size of the whole cluster, of which a strict
    majority must agree — pass it when some servers have no client here.
    Every operation fans out to all nodes at once and returns as soon as the
    outcome is decided; `timeout` (seconds, default: the clients' socket
    timeout or 1.0) bounds every call. Clients should not retry on their own
    (redis-py >= 6 retries by default; `from_urls` turns that off) or a dead
    node can hold a call past its deadline.

    Recovery (majorityredis.admission): a node that lost its data (restarted
    without persistence) or is brand new abstains until it is safe again —
    for locks and queue holds until a recovery period of `max_ttl` seconds
    (default 60) has passed on the node's own clock, for the register until
    `resync()` (run in the background when a register call meets such a
    node) copied the register from a quorum. `max_ttl` is the longest ttl
    any Lock or queue hold may use (longer is a ValueError); every client of
    a cluster must use the same `max_ttl` and `recovery`. A brand-new cluster
    looks like one that lost all its data: call `bootstrap_new_cluster()`
    once, or wait one recovery period. `recovery=False` turns the protection
    off (then a node must stay down for the longest ttl before it rejoins
    empty: the operator's delayed-restart rule).

    `runtime` is the library's door to time, randomness, threads and the
    network (majorityredis.runtime; default the real world). `clock`
    overrides the runtime's monotonic clock (tests drive time with it).
    """

    def __init__(self, clients: Sequence[Any], n_servers: int | None = None, *,
                 timeout: float | None = None, consistency: str = "linearizable",
                 clock: Callable[[], float] | None = None, runtime: Runtime = REAL,
                 max_ttl: float = DEFAULT_MAX_TTL, recovery: bool = True) -> None:
        clients = list(clients)
        if not clients:
            raise ValueError("MajorityRedis needs at least one redis client (one per server)")
        arguments.check_finite(timeout=timeout)
        arguments.check_distinct_servers(clients, runtime.server_identity)
        n_servers = len(clients) if n_servers is None else n_servers
        if n_servers < len(clients):
            raise ValueError(f"n_servers={n_servers} is smaller than the {len(clients)} clients given")
        if len(clients) < quorum_size(n_servers):
            raise ValueError(f"{len(clients)} clients can never form a quorum of {quorum_size(n_servers)} "
                             f"out of n_servers={n_servers}: pass more clients or a smaller n_servers")
        if consistency not in ("linearizable", "fast"):
            raise ValueError(f"consistency must be 'linearizable' or 'fast', not {consistency!r}")
        if timeout is None:
            timeout = runtime.default_timeout(clients) or 1.0
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, not {timeout}")
        if not max_ttl > 0 or max_ttl * 1000 < 1:
            raise ValueError(f"max_ttl must be at least 1 ms (given in seconds), not {max_ttl}")
        self.clients = clients
        self.n_servers = n_servers
        self.quorum = quorum_size(n_servers)
        self.timeout = timeout
        self.consistency = consistency
        self.runtime = runtime
        self.clock: Callable[[], float] = runtime.clock if clock is None else clock
        # which nodes answered nothing for longer than the timeout: calls that wait for every node
        # (majorityredis.liveness) do not wait for those
        self.silence = Silence(len(clients), self.clock, timeout)
        self.fanout = NotingFanout(runtime.fanout(clients, timeout=timeout, clock=self.clock),
                                   self.silence, self.clock)
        self._owns_clients = False
        self._register: Register | None = None
        self.recovery = recovery
        #: the longest hold ttl (s); None when recovery is off (no limit, no admission check)
        self.max_ttl: float | None = float(max_ttl) if recovery else None

    @classmethod
    def from_urls(cls, urls: Sequence[str], *, socket_timeout: float = 0.5, n_servers: int | None = None,
                  **kwargs: Any) -> MajorityRedis:
        """One client per URL (`redis://[:password@]host:port/db`, `rediss://` for TLS).

        Connection options other than MajorityRedis's own keywords (timeout,
        consistency, clock, runtime, max_ttl, recovery) pass through to the runtime's clients
        (redis-py's `redis.Redis.from_url` for the real one).
        """
        arguments.check_finite(socket_timeout=socket_timeout)
        own = {k: kwargs.pop(k) for k in ("timeout", "consistency", "clock", "runtime", "max_ttl", "recovery")
               if k in kwargs}
        runtime: Runtime = own.get("runtime", REAL)
        clients = runtime.clients_from_urls(urls, socket_timeout=socket_timeout, **kwargs)
        mr = cls(clients, n_servers, timeout=own.pop("timeout", socket_timeout), **own)
        mr._owns_clients = True
        return mr

    # -- quorum helpers for the algorithms --------------------------------------
    def tally(self, agreed: int, refused: int) -> Tally:
        return Tally(self.n_servers, self.quorum, agreed, refused)

    def node_label(self, node: int) -> str:
        return self.runtime.node_label(self.clients[node])

    # -- algorithms ----------------------------------------------------------------
    def lock(self, name: str, ttl: float = 10.0, **kwargs: Any) -> Lock:
        """A distributed lock (see majorityredis.lock.Lock for the keyword arguments)."""
        from majorityredis.lock import Lock
        return Lock(self, name, ttl=ttl, **kwargs)

    def queue(self, name: str, **kwargs: Any) -> LockingQueue:
        """A LockingQueue (see majorityredis.queue.LockingQueue)."""
        from majorityredis.queue import LockingQueue
        return LockingQueue(self, name, **kwargs)

    @property
    def register(self) -> Register:
        """The versioned GET/SET register in this instance's consistency mode."""
        if self._register is None:
            from majorityredis.register import Register
            self._register = Register(self, consistency=self.consistency)
        return self._register

    def set(self, key: str, value: bytes | str | int | float) -> None:
        """Write `value` to a majority (raises NoQuorum when the outcome is unknown)."""
        self.register.set(key, value)

    def get(self, key: str) -> bytes | None:
        """Read the newest value a majority knows (None when absent or deleted)."""
        return self.register.get(key)

    def delete(self, key: str) -> None:
        """Write a versioned tombstone for `key` to a majority."""
        self.register.delete(key)

    # -- recovery (majorityredis.admission) -----------------------------------------------
    def bootstrap_new_cluster(self) -> list[str]:
        """Admit every reachable node at once: ONLY for a brand-new cluster (or one whose data
        is to be discarded). Skips the first recovery period and marks the register synced.

        Calling it on a cluster in use, while a node restarted empty, re-opens the
        window the recovery closes (two holders, stale register reads). Returns the
        labels of the nodes admitted; NoQuorum when fewer than a quorum answered.
        """
        from majorityredis.admission import bootstrap_command

        replies = self.fanout.call(bootstrap_command(), n_servers=self.n_servers)
        admitted = sorted(replies.ok())
        if len(admitted) < self.quorum:
            from majorityredis.errors import NoQuorum

            raise NoQuorum("bootstrap_new_cluster", quorum=self.quorum, n_servers=self.n_servers,
                           agreed=len(admitted), errors={self.node_label(n): e for n, e in replies.errors().items()})
        labels = [self.node_label(node) for node in admitted]
        log.warning("bootstrap_new_cluster: admitted %s as members of a NEW cluster", ", ".join(labels))
        return labels

    def resync(self) -> list[str]:
        """Resynchronise every reachable register node that lost its data; returns their labels.

        See majorityredis.register.Register.resync.
        """
        return self.register.resync()

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        """Release parked connections and, for clients made by `from_urls`, the clients."""
        self.fanout.close()
        if self._owns_clients:
            for client in self.clients:
                client.close()

    def __enter__(self) -> MajorityRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
