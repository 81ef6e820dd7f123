"""The library's one door to the world outside its own computation: the `Runtime`.

Everything a Lock, a LockingQueue or a Register does that is not pure
computation goes through the `Runtime` of its `MajorityRedis` (`mr.runtime`):

- time: `clock()` (monotonic seconds: validity, deadlines), `wall_clock()`
  (seconds since the epoch: queue item ids, the fast register's versions)
  and `sleep(seconds)`;
- randomness: `token_hex(n)` (hold values: unique, unguessable),
  `randbits(k)` (writer ids) and `random()` (a new `random.Random` stream
  for retry delays and candidate choice);
- concurrency: `event()`, `lock()`, `rlock()` and `start_thread(target, name)`
  (the auto-extend renewer);
- the network: `clients_from_urls(urls, ...)` makes one client per node and
  `fanout(clients, timeout=, clock=)` the object whose `call(...)` sends a
  command to every node at once (majorityredis.fanout's contract);
  `node_label(client)` names a node in errors and `server_identity(client)`
  says which clients reach the same server (a server given twice is refused).

`RealRuntime` (the default, `REAL`) is the stdlib and redis-py: its
attributes *are* `time.monotonic`, `time.sleep`, `secrets.token_hex`, ... so
the hot path pays no indirection beyond one attribute read. A simulator
passes its own runtime (virtual time, a seeded random source, cooperative
threads, a simulated network) and the library runs unchanged: the algorithm
modules never import a simulator nor ask whether they are simulated. This is
the seam tokio's turmoil uses (the application reaches the network through
one local module that is either real or simulated).

Contract of a runtime's pieces (what the library relies on):
- `clock()` never goes backwards; `sleep(s)` returns after `clock()` has
  advanced by at least `s`;
- `token_hex(n)` values are unique for the runtime's lifetime;
- `event()` has `set`, `clear`, `is_set`, `wait(timeout) -> bool`;
  `lock()`/`rlock()` are context managers with `acquire`/`release`
  (rlock re-entrant for its owner); `start_thread` returns an object with
  `join(timeout)` and `is_alive()`, and `current_thread()` identifies the
  caller so a thread can tell whether it is the one it would join;
- `fanout(...).call(commands, done=, timeout=, n_servers=)` and `close()`
  as in majorityredis.fanout.Fanout.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

if TYPE_CHECKING:
    from majorityredis.fanout import Command, Replies


class EventLike(Protocol):
    def set(self) -> None: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class ThreadLike(Protocol):
    def join(self, timeout: float | None = None) -> None: ...
    def is_alive(self) -> bool: ...


class FanoutLike(Protocol):
    def call(self, commands: Command | Mapping[int, Command], *, done: Callable[[Replies], bool] | None = None,
             timeout: float | None = None, n_servers: int | None = None) -> Replies: ...
    def close(self) -> None: ...


class Runtime(Protocol):
    """What the library needs from the world (see the module docstring)."""

    def clock(self) -> float: ...
    def wall_clock(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...
    def token_hex(self, nbytes: int) -> str: ...
    def randbits(self, k: int) -> int: ...
    def random(self) -> random.Random: ...
    def event(self) -> EventLike: ...
    def lock(self) -> Any: ...
    def rlock(self) -> Any: ...
    def start_thread(self, target: Callable[[], None], name: str) -> ThreadLike: ...
    def current_thread(self) -> object: ...
    def clients_from_urls(self, urls: Sequence[str], *, socket_timeout: float, **kwargs: Any) -> list[Any]: ...
    def default_timeout(self, clients: Sequence[Any]) -> float | None: ...
    def fanout(self, clients: Sequence[Any], *, timeout: float, clock: Callable[[], float]) -> FanoutLike: ...
    def node_label(self, client: Any) -> str: ...
    def server_identity(self, client: Any) -> tuple[Any, ...]: ...


class RealRuntime:
    """The real world: the stdlib's clocks, `secrets`, OS threads, redis-py and the socket fan-out."""

    def __init__(self) -> None:
        # Plain attributes bound to the stdlib functions: a call costs what calling them directly does.
        self.clock: Callable[[], float] = time.monotonic
        self.wall_clock: Callable[[], float] = time.time
        self.sleep: Callable[[float], None] = time.sleep
        self.token_hex: Callable[[int], str] = secrets.token_hex
        self.randbits: Callable[[int], int] = secrets.randbits
        self.event: Callable[[], EventLike] = threading.Event
        self.lock: Callable[[], Any] = threading.Lock
        self.rlock: Callable[[], Any] = threading.RLock
        self.current_thread: Callable[[], object] = threading.current_thread

    def random(self) -> random.Random:
        """A new stream seeded from the OS (each Lock or queue gets its own)."""
        return random.Random()

    def start_thread(self, target: Callable[[], None], name: str) -> ThreadLike:
        """A daemon thread running `target` (never keeps the process alive)."""
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread

    def clients_from_urls(self, urls: Sequence[str], *, socket_timeout: float, **kwargs: Any) -> list[Any]:
        """One redis-py client per URL, without redis-py's own retries (they would outlast deadlines)."""
        return [redis.Redis.from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout,
                                     retry=Retry(NoBackoff(), 0), **kwargs) for url in urls]

    def default_timeout(self, clients: Sequence[Any]) -> float | None:
        """The first client's socket timeout (None when it has none)."""
        value = clients[0].connection_pool.connection_kwargs.get("socket_timeout")
        return float(value) if value else None

    def fanout(self, clients: Sequence[Any], *, timeout: float, clock: Callable[[], float]) -> FanoutLike:
        from majorityredis.fanout import Fanout

        return Fanout(clients, timeout=timeout, clock=clock)

    def node_label(self, client: Any) -> str:
        kwargs = client.connection_pool.connection_kwargs
        return f"{kwargs.get('host', kwargs.get('path', '?'))}:{kwargs.get('port', '')}".rstrip(":")

    def server_identity(self, client: Any) -> tuple[Any, ...]:
        """What makes two redis-py clients talk to the same server: host (case-folded), port and
        db, or the unix socket path and db."""
        kwargs = client.connection_pool.connection_kwargs
        if kwargs.get("path"):
            return ("unix", kwargs["path"], int(kwargs.get("db") or 0))
        return (str(kwargs.get("host", "localhost")).lower(), int(kwargs.get("port") or 6379),
                int(kwargs.get("db") or 0))


REAL = RealRuntime()
"""The default runtime of every MajorityRedis."""
