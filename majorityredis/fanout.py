"""Send one command to every node at once and collect replies until the outcome is decided.

All requests are written before any reply is read, and replies are read in
the order they arrive (one `poll` over the sockets), so a call costs one
round trip to the slowest node *of the quorum it needs*, not the sum of the
round trips, and no thread hand-off is paid on the fast path. A node that
has no idle connection ready (first use, or after an error) is connected on
a small thread pool, so one unreachable node never delays the others.

Contract of `Fanout.call`:
- it returns once `done(replies)` is true, every node answered, or the
  deadline (`timeout` seconds) passed — never later than the deadline plus
  the time to read one reply that had started to arrive;
- a node missing from the result's replies did not answer in time: its
  request may still execute on the server;
- replies that arrive after the call returned are read and discarded before
  the connection is used again, so connections never get out of step;
- a node whose connection was still being made when the call returned gets
  its command as soon as the connection is up (its reply is discarded; a
  script goes as EVAL, which runs even where it is not cached), so "sent to
  every node" holds for early-decided calls too;
- a script goes to a node as EVAL (with its source) until a reply from that
  node shows the script cached there, and as EVALSHA from then on; so a
  script whose reply nobody waits for runs on a node that never had it. A
  NOSCRIPT read later (the node lost its scripts: flushed, or restarted on a
  connection that did not break) is answered with EVAL at once when the
  call still waits for that node, and makes the next calls send EVAL;
  a new connection to a node (the old one broke: maybe a restart) forgets
  what was cached there.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.exceptions import NoScriptError

from majorityredis import resp

log = logging.getLogger("majorityredis")

Args = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Command:
    """One command for one node. A script call has its EVALSHA form in `args` (args[1] is the
    SHA) and its EVAL form in `on_noscript`, sent where the script is not known to be cached."""

    args: Args
    on_noscript: Args | None = None

    def __post_init__(self) -> None:
        if self.on_noscript is not None and str(self.args[0]).upper() != "EVALSHA":
            raise ValueError(f"a command with an EVAL fallback must be an EVALSHA, not {self.args[0]!r}")


@dataclass(slots=True)
class Replies:
    """What each node answered (a value, or the exception it raised) by the time a call returned."""

    n_servers: int
    values: dict[int, Any] = field(default_factory=dict)

    def ok(self) -> dict[int, Any]:
        """Replies that are values (not exceptions)."""
        return {node: v for node, v in self.values.items() if not isinstance(v, BaseException)}

    def errors(self) -> dict[int, BaseException]:
        return {node: v for node, v in self.values.items() if isinstance(v, BaseException)}

    def count(self, accept: Callable[[Any], bool]) -> int:
        return sum(1 for v in self.values.values() if not isinstance(v, BaseException) and accept(v))


MAX_PARKED_PER_NODE = 4  # connections still owing a late reply, kept to be drained instead of reconnected


class _Owed:
    """A connection whose reply was abandoned when a call returned early."""

    __slots__ = ("conn", "pool", "command")

    def __init__(self, conn: Any, pool: Any, command: Command) -> None:
        self.conn = conn
        self.pool = pool
        self.command = command  # what was sent (its script's SHA is cached there if the reply is not NOSCRIPT)


class Fanout:
    """Fan-out over a fixed list of redis-py clients (node i = clients[i]).

    Thread-safe: concurrent calls take separate connections from each
    client's pool. `timeout` is the default deadline of a call in seconds.
    """

    def __init__(self, clients: Sequence[redis.Redis], *, timeout: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.clients = list(clients)
        self.timeout = timeout
        self.clock = clock
        self._owed: dict[int, list[_Owed]] = {i: [] for i in range(len(self.clients))}
        # per node, the SHAs of the scripts a reply showed cached there: others go as EVAL
        self._cached_scripts: list[set[str]] = [set() for _ in self.clients]
        # Connections this fan-out keeps checked out between calls, per node: the hot path
        # then costs no pool bookkeeping (redis-py >= 8 records metrics on every checkout).
        self._idle: list[list[Any]] = [[] for _ in self.clients]
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    # -- public ----------------------------------------------------------------
    def call(self, commands: Command | Mapping[int, Command], *,
             done: Callable[[Replies], bool] | None = None, timeout: float | None = None,
             n_servers: int | None = None) -> Replies:
        """Send `commands` (one for all nodes, or per node) and collect replies; see module docstring."""
        per_node = (dict.fromkeys(range(len(self.clients)), commands) if isinstance(commands, Command)
                    else dict(commands))
        replies = Replies(n_servers if n_servers is not None else len(self.clients))
        deadline = self.clock() + (self.timeout if timeout is None else timeout)
        in_flight: dict[int, tuple[Any, Any, Command]] = {}   # node -> (conn, pool, command)
        connecting: dict[int, Future[Any]] = {}
        packed: dict[Any, Any] = {}  # (id(args), encoding) -> wire bytes: a command shared by all nodes is packed once
        try:
            at_hand = self._ready_connections(per_node, replies)
            for node, command in per_node.items():
                ready = at_hand.get(node)
                if ready is not None:
                    self._send(node, *ready, command, replies, in_flight, packed)
                elif node not in replies.values:
                    connecting[node] = self._submit_connect(node)
            while in_flight or connecting:
                if done is not None and done(replies):
                    break
                self._adopt_connected(connecting, per_node, replies, in_flight)
                remaining = deadline - self.clock()
                if remaining <= 0:
                    break
                if not in_flight:
                    if connecting:  # the last connect may have just failed: nothing left to wait for
                        _wait_any(connecting, remaining)
                    continue
                wait = min(remaining, 0.002) if connecting else remaining
                for node in self._readable(in_flight, wait):
                    self._read_reply(node, replies, in_flight)
        finally:
            for node, (conn, pool, command) in in_flight.items():
                self._owe(node, conn, pool, command)
            for node, future in connecting.items():
                future.add_done_callback(
                    lambda f, node=node: self._finish_late_connect(node, f, per_node[node]))
            for node in per_node:
                if node not in replies.values and self.clock() >= deadline:
                    replies.values.setdefault(node, TimeoutError("no reply within the deadline"))
        return replies

    def close(self) -> None:
        """Drop parked connections, hand idle ones back to their pools, stop the connect pool.

        The clients themselves stay open.
        """
        with self._lock:
            owed = [o for lst in self._owed.values() for o in lst]
            for lst in self._owed.values():
                lst.clear()
            idle = [(node, conn) for node, lst in enumerate(self._idle) for conn in lst]
            for lst in self._idle:
                lst.clear()
        for item in owed:
            _discard(item.conn, item.pool)
        for node, conn in idle:
            self.clients[node].connection_pool.release(conn)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # -- connections -----------------------------------------------------------
    def _ready_connections(self, nodes: Sequence[int] | Mapping[int, Any],
                           replies: Replies) -> dict[int, tuple[Any, Any]]:
        """A connected connection per node, in step and needing no blocking step, where one is at hand.

        Per node: a parked connection whose late reply has arrived is drained
        and reused; one still waiting stays parked (up to MAX_PARKED_PER_NODE,
        oldest dropped first) so a slow node costs no reconnect. Otherwise one
        of this fan-out's idle connections (unless the server hung up on it),
        else an idle connected one from the client's pool. A node missing from
        the result must be connected — TCP, AUTH, HELLO — which is never done
        here but on the connect pool, where a hung node blocks no one. The
        usual case (one idle or parked connection per node) costs one `poll`
        for all nodes together.
        """
        parked: dict[int, list[_Owed]] = {}
        idle: dict[int, Any] = {}
        with self._lock:
            for node in nodes:
                if self._owed[node]:
                    parked[node], self._owed[node] = self._owed[node], []
                if self._idle[node]:
                    idle[node] = self._idle[node].pop()
        readable = _readable_now([item.conn for items in parked.values() for item in items]
                                 + list(idle.values()))
        ready: dict[int, tuple[Any, Any]] = {}
        for node in nodes:
            pool = self.clients[node].connection_pool
            found = self._drain_parked(node, parked.get(node, []), readable)
            conn = idle.pop(node, None)
            if found is not None:
                if conn is not None:
                    self._keep_idle(node, conn)
                ready[node] = found
                continue
            if conn is not None:
                if conn._sock is not None and id(conn) not in readable:
                    ready[node] = (conn, pool)
                    continue
                _discard(conn, pool)  # closed under us, or the server hung up (EOF is readable)
            other = self._other_connection(node, replies)
            if other is not None:
                ready[node] = other
        return ready

    def _drain_parked(self, node: int, parked: list[_Owed], readable: set[int]) -> tuple[Any, Any] | None:
        """Reuse the first parked connection whose late reply is there (read, discarded); park the rest."""
        found: tuple[Any, Any] | None = None
        waiting: list[_Owed] = []
        for item in parked:
            if found is not None or id(item.conn) not in readable:
                waiting.append(item)
                continue
            try:
                late = resp.read_reply(item.conn)
            except Exception:  # noqa: BLE001 - the late reply broke this connection
                _discard(item.conn, item.pool)
                continue
            if late is resp.INCOMPLETE:
                waiting.append(item)
                continue
            self._learn_script(node, item.command, late)
            found = (item.conn, item.pool)  # an error reply (the abandoned command failed) is in step too
        if waiting:
            with self._lock:
                self._owed[node][:0] = waiting
                excess = self._owed[node][:-MAX_PARKED_PER_NODE]
                del self._owed[node][:-MAX_PARKED_PER_NODE]
            for item in excess:
                _discard(item.conn, item.pool)
        return found

    def _other_connection(self, node: int, replies: Replies) -> tuple[Any, Any] | None:
        """Another idle connection of this fan-out (checked one by one), else a connected one of the pool."""
        pool = self.clients[node].connection_pool
        while True:
            with self._lock:
                conn = self._idle[node].pop() if self._idle[node] else None
            if conn is None:
                break
            if conn._sock is not None and not _readable_now([conn]):
                return conn, pool
            _discard(conn, pool)
        if not _has_idle_connected(pool):
            return None
        try:
            conn = _checkout(pool)
            self._cached_scripts[node].clear()  # a connection we did not use before: see _adopt_connected
            return conn, pool
        except Exception as error:  # noqa: BLE001 - every failure is this node's vote
            replies.values[node] = error
            return None

    def _send(self, node: int, conn: Any, pool: Any, command: Command, replies: Replies,
              in_flight: dict[int, tuple[Any, Any, Command]], packed: dict[Any, Any] | None = None) -> None:
        args = command.args
        if command.on_noscript is not None and args[1] not in self._cached_scripts[node]:
            args = command.on_noscript
        try:
            encoder = conn.encoder  # clients with other encodings get their own packing
            key = (id(args), encoder.encoding, encoder.encoding_errors)
            wire = packed.get(key) if packed is not None else None
            if wire is None:
                wire = b"".join(conn.pack_command(*args))
                if packed is not None:
                    packed[key] = wire
            resp.send(conn, wire)
        except Exception as error:  # noqa: BLE001
            _discard(conn, pool)
            replies.values[node] = error
            return
        in_flight[node] = (conn, pool, command)

    def _submit_connect(self, node: int) -> Future[Any]:
        if self._executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        max_workers=max(4, 2 * len(self.clients)), thread_name_prefix="majorityredis-connect")
        pool = self.clients[node].connection_pool
        return self._executor.submit(lambda: (_checkout(pool), pool))

    def _adopt_connected(self, connecting: dict[int, Future[Any]], per_node: Mapping[int, Command],
                         replies: Replies, in_flight: dict[int, tuple[Any, Any, Command]]) -> None:
        for node in [n for n, f in connecting.items() if f.done()]:
            future = connecting.pop(node)
            error = future.exception()
            if error is not None:
                replies.values[node] = error
                continue
            conn, pool = future.result()
            # a new connection: the node may have restarted since a reply showed its scripts cached
            self._cached_scripts[node].clear()
            self._send(node, conn, pool, per_node[node], replies, in_flight)

    def _finish_late_connect(self, node: int, future: Future[Any], command: Command) -> None:
        """Send the command the call could not wait for; its reply is drained later."""
        if future.cancelled() or future.exception() is not None:
            return
        conn, pool = future.result()
        self._cached_scripts[node].clear()  # a new connection: see _adopt_connected
        try:
            conn.send_command(*(command.on_noscript or command.args))  # EVAL: runs where nothing is cached
        except Exception:  # noqa: BLE001 - the node is gone again; nobody waits for it
            _discard(conn, pool)
            return
        self._owe(node, conn, pool, command)

    def _owe(self, node: int, conn: Any, pool: Any, command: Command) -> None:
        with self._lock:
            self._owed[node].append(_Owed(conn, pool, command))

    def _learn_script(self, node: int, command: Command, reply: Any) -> None:
        """Record from a reply to a script command whether the node has the script cached."""
        if command.on_noscript is None:
            return
        if isinstance(reply, NoScriptError):
            self._cached_scripts[node].discard(command.args[1])
        else:
            self._cached_scripts[node].add(command.args[1])

    # -- replies -----------------------------------------------------------------
    @staticmethod
    def _readable(in_flight: Mapping[int, tuple[Any, Any, Command]], wait: float) -> list[int]:
        by_fd: dict[int, int] = {}
        ready: list[int] = []
        for node, (conn, _pool, _command) in in_flight.items():
            sock = conn._sock
            if sock is None:
                ready.append(node)  # disconnected under us: reading raises the error
            elif getattr(sock, "pending", None) and sock.pending():
                ready.append(node)  # TLS: decrypted bytes wait in the SSL buffer, invisible to select
            else:
                by_fd[sock.fileno()] = node
        if ready:
            return ready
        poller = select.poll()  # poll, not select: no FD_SETSIZE limit in busy processes
        for fd in by_fd:
            poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        return [by_fd[fd] for fd, _event in poller.poll(max(0, int(wait * 1000 + 0.999)))]

    def _read_reply(self, node: int, replies: Replies,
                    in_flight: dict[int, tuple[Any, Any, Command]]) -> None:
        conn, pool, command = in_flight[node]
        try:
            value: Any = resp.read_reply(conn)
        except Exception as error:  # noqa: BLE001 - connection lost, timeout: this node's vote
            del in_flight[node]
            _discard(conn, pool)
            replies.values[node] = error
            return
        if value is resp.INCOMPLETE:
            return  # the rest of the reply is on its way: stay in flight, block nobody
        del in_flight[node]
        self._learn_script(node, command, value)
        if isinstance(value, NoScriptError) and command.on_noscript is not None:
            # the node lost its scripts: EVAL (chosen by _send now) runs and caches it there
            self._send(node, conn, pool, command, replies, in_flight)
            return
        self._keep_idle(node, conn)
        replies.values[node] = value

    def _keep_idle(self, node: int, conn: Any) -> None:
        """A connection in step (its reply read) waits for this node's next call."""
        with self._lock:
            self._idle[node].append(conn)


def _readable_now(conns: Sequence[Any]) -> set[int]:
    """ids of the connections with bytes (or EOF, or TLS bytes already decrypted) waiting; one poll."""
    readable: set[int] = set()
    by_fd: dict[int, int] = {}
    for conn in conns:
        sock = conn._sock
        if sock is None:
            continue
        if getattr(sock, "pending", None) and sock.pending():
            readable.add(id(conn))
        else:
            by_fd[sock.fileno()] = id(conn)
    if by_fd:
        poller = select.poll()
        for fd in by_fd:
            poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        readable.update(by_fd[fd] for fd, _event in poller.poll(0))
    return readable


def _has_idle_connected(pool: Any) -> bool:
    """Whether `pool.get_connection()` would hand out a connected socket without connecting.

    Reads redis-py's idle list (stable since redis-py 3); a pool without one
    is treated as "connect on the pool", which is always safe, only slower.
    """
    idle = getattr(pool, "_available_connections", None)
    return bool(idle) and getattr(idle[-1], "_sock", None) is not None


def _checkout(pool: Any) -> Any:
    """A connected connection from the pool, with an empty reply buffer."""
    conn = pool.get_connection()
    resp.reset(conn)
    return conn


def _discard(conn: Any, pool: Any) -> None:
    resp.reset(conn)
    try:
        conn.disconnect()
    finally:
        pool.release(conn)


def _wait_any(futures: Mapping[int, Future[Any]], timeout: float) -> None:
    event = threading.Event()
    for future in futures.values():
        future.add_done_callback(lambda _f: event.set())
    event.wait(timeout)
