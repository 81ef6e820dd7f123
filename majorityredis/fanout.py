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
  the reply of a later command on that connection, so replies are never
  attributed to the wrong command;
- a node whose connection was still being made when the call returned gets
  its command as soon as the connection is up (its reply is discarded; a
  script goes as EVAL, which runs even where it is not cached), so "sent to
  every node" holds for early-decided calls too;
- calls that follow one another (one returned before the next began) reach
  each node in the order they were made: a command for a node that still
  owes a reply to an earlier call is pipelined behind it on the same
  connection (or written after it on the connection still being made), so
  the node runs it after the earlier one — a consume and then a size from
  one client agree. The exception is a node whose oldest owed reply is
  overdue (sent more than `timeout` ago: paused, partitioned, or its bytes
  were lost): the next command goes on another connection and may overtake
  what is stuck on that node. Calls that overlap in time (threads sharing
  the fan-out) are not ordered against each other;
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
from collections import deque
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


MAX_PARKED_PER_NODE = 4  # connections owing late replies, kept to be drained instead of reconnected


class _Line:
    """A connection this fan-out holds, and the replies it still owes, oldest first.

    `owed` holds (command, sent at) pairs in the order they were written.
    While a call waits on the line, its own command is the last pair; the
    ones before it belong to calls that returned without their replies:
    those replies are read and dropped first (learning script caching from
    them), so replies are never attributed to the wrong command. A line that
    owes nothing is in step and its reply buffer is empty.
    """

    __slots__ = ("conn", "pool", "owed")

    def __init__(self, conn: Any, pool: Any) -> None:
        self.conn = conn
        self.pool = pool
        self.owed: deque[tuple[Command, float]] = deque()


class _Connect:
    """A connection being made on the connect pool, and earlier calls' commands to write on it
    first (calls that returned before it was up).

    Once its call has returned, exactly one party takes it (`taken`): the
    next call to the node, which writes these commands before its own, or
    else the connect's done callback, which writes them and parks the line.
    """

    __slots__ = ("future", "commands", "taken")

    def __init__(self, future: Future[Any], commands: list[Command]) -> None:
        self.future = future
        self.commands = commands
        self.taken = False


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
        # Per node: lines owing replies nobody waits for, oldest first; lines in step (this
        # fan-out keeps them checked out between calls: the hot path then costs no pool
        # bookkeeping, which redis-py >= 8 does with metrics on every checkout); and a
        # connect that outlived its call. Each node's three are guarded by that node's lock.
        self._parked: list[list[_Line]] = [[] for _ in self.clients]
        self._idle: list[list[_Line]] = [[] for _ in self.clients]
        self._late: dict[int, _Connect] = {}
        self._locks = [threading.Lock() for _ in self.clients]
        self._closed = False
        # per node, the SHAs of the scripts a reply showed cached there: others go as EVAL
        self._cached_scripts: list[set[str]] = [set() for _ in self.clients]
        self._executor_lock = threading.Lock()
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
        in_flight: dict[int, _Line] = {}
        connecting: dict[int, _Connect] = {}  # node -> connect, with earlier calls' commands to write first
        packed: dict[Any, Any] = {}  # (id(args), encoding) -> wire bytes: a command shared by all nodes is packed once
        try:
            at_hand = self._ready_lines(per_node, replies)
            for node, command in per_node.items():
                line = at_hand.get(node)
                if line is not None:
                    self._send(node, line, command, replies, in_flight, packed)
                elif node not in replies.values:
                    connecting[node] = self._join_or_connect(node)
            while in_flight or connecting:
                if done is not None and done(replies):
                    break
                self._adopt_connected(connecting, per_node, replies, in_flight)
                remaining = deadline - self.clock()
                if remaining <= 0:
                    break
                if not in_flight:
                    if connecting:  # the last connect may have just failed: nothing left to wait for
                        _wait_any([c.future for c in connecting.values()], remaining)
                    continue
                wait = min(remaining, 0.002) if connecting else remaining
                for node in self._readable(in_flight, wait):
                    self._read_reply(node, replies, in_flight)
        finally:
            for node, line in in_flight.items():
                self._park(node, line)
            for node, pending in connecting.items():
                self._leave_connect(node, _Connect(pending.future, [*pending.commands, per_node[node]]))
            for node in per_node:
                if node not in replies.values and self.clock() >= deadline:
                    replies.values.setdefault(node, TimeoutError("no reply within the deadline"))
        return replies

    def close(self) -> None:
        """Drop parked connections, hand idle ones back to their pools, stop the connect pool.

        The clients themselves stay open.
        """
        parked: list[_Line] = []
        idle: list[_Line] = []
        for node, lock in enumerate(self._locks):
            with lock:
                self._closed = True  # a connect finishing later writes its commands, then hangs up
                parked += self._parked[node]
                idle += self._idle[node]
                self._parked[node], self._idle[node] = [], []
        for line in parked:
            _discard(line)
        for line in idle:
            line.pool.release(line.conn)
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    # -- connections -----------------------------------------------------------
    def _ready_lines(self, nodes: Sequence[int] | Mapping[int, Any], replies: Replies) -> dict[int, _Line]:
        """A connected line per node, needing no blocking step, where one is at hand.

        Per node, in this order of preference:
        - the parked line last written to, when its oldest owed reply is not
          overdue (sent less than `timeout` ago): the call's command is
          pipelined behind the earlier calls' commands, so the node runs them
          in the order they were sent (a line whose replies have all arrived
          is drained and counts as in step);
        - a line in step: drained from the parked ones, else one of this
          fan-out's idle lines (unless the server hung up on it), else an
          idle connected connection of the client's pool.
        A node missing from the result is left to `_join_or_connect` — when a
        connect that outlived its call is pending there (the new command must
        follow that call's), or the node must be connected (TCP, AUTH, HELLO),
        which is never done here but on the connect pool, where a hung node
        blocks no one. The usual case (one idle or parked line per node) costs
        one `poll` for all nodes together.
        """
        parked: dict[int, list[_Line]] = {}
        idle: dict[int, _Line] = {}
        for node in nodes:
            with self._locks[node]:
                if self._parked[node]:
                    parked[node], self._parked[node] = self._parked[node], []
                if self._idle[node]:
                    idle[node] = self._idle[node].pop()
        readable = _readable_now([line.conn for lines in parked.values() for line in lines]
                                 + [line.conn for line in idle.values()])
        now = self.clock() if parked else 0.0
        ready: dict[int, _Line] = {}
        for node in nodes:
            found = self._pick_parked(node, parked[node], readable, now) if node in parked else None
            spare = idle.pop(node, None)
            if found is not None:
                if spare is not None:
                    self._keep_idle(node, spare)
                ready[node] = found
                continue
            if spare is not None:
                if spare.conn._sock is not None and id(spare.conn) not in readable:
                    ready[node] = spare
                    continue
                _discard(spare)  # closed under us, or the server hung up (EOF is readable)
            if node in self._late:
                continue  # a connect carrying an earlier call's command: follow it there
            other = self._other_line(node, replies)
            if other is not None:
                ready[node] = other
        return ready

    def _pick_parked(self, node: int, lines: list[_Line], readable: set[int], now: float) -> _Line | None:
        """Drain what has arrived on a node's parked lines and choose one for the next command.

        The choice, see `_ready_lines`: the line last written to among those
        still owing replies that are not overdue, else one in step. The other
        lines in step become idle; the rest are parked again (the newest
        MAX_PARKED_PER_NODE of them).
        """
        in_step: list[_Line] = []
        waiting: list[_Line] = []
        for line in lines:
            if line.conn._sock is None:  # closed under us (the client was closed, say)
                _discard(line)
                continue
            if id(line.conn) in readable:
                try:
                    self._read_past_late_replies(node, line, keep=0)
                except Exception:  # noqa: BLE001 - a late reply broke this connection
                    _discard(line)
                    continue
            (waiting if line.owed else in_step).append(line)
        current = [line for line in waiting if now - line.owed[0][1] < self.timeout]
        found: _Line | None = None
        if current:
            found = max(current, key=lambda line: line.owed[-1][1])
            waiting.remove(found)
        elif in_step:
            found = in_step.pop()
        for line in in_step:
            self._keep_idle(node, line)
        if waiting:
            with self._locks[node]:
                self._parked[node][:0] = waiting
                excess = self._parked[node][:-MAX_PARKED_PER_NODE]
                del self._parked[node][:-MAX_PARKED_PER_NODE]
            for line in excess:
                _discard(line)
        return found

    def _read_past_late_replies(self, node: int, line: _Line, *, keep: int) -> Any:
        """Read what arrived on the line and drop the replies owed to all but its last `keep`
        commands (nobody waits for them; script caching is learnt from them). Returns the reply
        that follows them when it is complete, else INCOMPLETE."""
        value = resp.read_reply(line.conn)
        while value is not resp.INCOMPLETE and len(line.owed) > keep:
            command, _sent = line.owed.popleft()
            self._learn_script(node, command, value)
            value = resp.buffered_reply(line.conn)
        return value

    def _other_line(self, node: int, replies: Replies) -> _Line | None:
        """Another idle line of this fan-out (checked one by one), else a connected one of the pool."""
        pool = self.clients[node].connection_pool
        while True:
            with self._locks[node]:
                line = self._idle[node].pop() if self._idle[node] else None
            if line is None:
                break
            if line.conn._sock is not None and not _readable_now([line.conn]):
                return line
            _discard(line)
        if not _has_idle_connected(pool):
            return None
        try:
            conn = _checkout(pool)
        except Exception as error:  # noqa: BLE001 - every failure is this node's vote
            replies.values[node] = error
            return None
        self._cached_scripts[node].clear()  # a connection we did not use before: see _connected_line
        return _Line(conn, pool)

    def _join_or_connect(self, node: int) -> _Connect:
        """The connect this call waits for: one that outlived an earlier call, with that call's
        commands to write first (so they run first), else a new one on the connect pool."""
        with self._locks[node]:
            late = self._late.pop(node, None)
            if late is not None and not late.taken:
                late.taken = True  # ours now: its callback leaves it alone
                return late
        return _Connect(self._submit_connect(node), [])

    def _leave_connect(self, node: int, late: _Connect) -> None:
        """The call returns before its connect finished: the next call to the node takes it over,
        or else the done callback writes the commands when the connection is up."""
        with self._locks[node]:
            self._late[node] = late
        late.future.add_done_callback(lambda _f: self._finish_late_connect(node, late))

    def _finish_late_connect(self, node: int, late: _Connect) -> None:
        """Write the commands no call waits for any more, then park the line; their replies are
        drained later. Done under the node's lock, so a call starting meanwhile finds either
        this connect to take over or the parked line to pipeline on."""
        with self._locks[node]:
            if late.taken:
                return
            late.taken = True
            if self._late.get(node) is late:
                del self._late[node]
            if late.future.cancelled() or late.future.exception() is not None:
                return
            try:
                line = self._connected_line(node, late)
            except Exception:  # noqa: BLE001 - the node is gone again; nobody waits for it
                return
            if self._closed:
                _discard(line)  # the server still runs what it read before the hang-up
                return
            self._parked[node].append(line)

    def _submit_connect(self, node: int) -> Future[Any]:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=max(4, 2 * len(self.clients)), thread_name_prefix="majorityredis-connect")
            executor = self._executor
        pool = self.clients[node].connection_pool
        return executor.submit(lambda: (_checkout(pool), pool))

    def _adopt_connected(self, connecting: dict[int, _Connect], per_node: Mapping[int, Command],
                         replies: Replies, in_flight: dict[int, _Line]) -> None:
        for node in [n for n, c in connecting.items() if c.future.done()]:
            pending = connecting.pop(node)
            error = pending.future.exception()
            if error is not None:
                replies.values[node] = error
                continue
            try:
                line = self._connected_line(node, pending)
            except Exception as error:  # noqa: BLE001
                replies.values[node] = error
                continue
            self._send(node, line, per_node[node], replies, in_flight)

    def _connected_line(self, node: int, connected: _Connect) -> _Line:
        """The line of a finished connect, with the earlier calls' commands it carries written
        (they run first). Raises, the connection closed, when a write fails."""
        line = _Line(*connected.future.result())
        # a new connection: the node may have restarted since a reply showed its scripts cached
        self._cached_scripts[node].clear()
        try:
            for command in connected.commands:
                self._write(node, line, command, None)  # as EVAL: nothing is known cached there
        except Exception:
            _discard(line)
            raise
        return line

    def _park(self, node: int, line: _Line) -> None:
        """A line whose reply the returning call no longer waits for; see `_pick_parked`."""
        with self._locks[node]:
            self._parked[node].append(line)

    def _keep_idle(self, node: int, line: _Line) -> None:
        """A line in step (every reply read) waits for this node's next call."""
        with self._locks[node]:
            self._idle[node].append(line)

    # -- requests and replies ----------------------------------------------------
    def _send(self, node: int, line: _Line, command: Command, replies: Replies,
              in_flight: dict[int, _Line], packed: dict[Any, Any] | None = None) -> None:
        """Write the call's command on the line; the node's vote is the error when that fails."""
        try:
            self._write(node, line, command, packed)
        except Exception as error:  # noqa: BLE001
            _discard(line)
            replies.values[node] = error
            return
        in_flight[node] = line

    def _write(self, node: int, line: _Line, command: Command, packed: dict[Any, Any] | None) -> None:
        """Write one command (as EVAL when its script is not known cached on the node) and owe its reply."""
        args = command.args
        if command.on_noscript is not None and args[1] not in self._cached_scripts[node]:
            args = command.on_noscript
        conn = line.conn
        encoder = conn.encoder  # clients with other encodings get their own packing
        key = (id(args), encoder.encoding, encoder.encoding_errors)
        wire = packed.get(key) if packed is not None else None
        if wire is None:
            wire = b"".join(conn.pack_command(*args))
            if packed is not None:
                packed[key] = wire
        resp.send(conn, wire)
        line.owed.append((command, self.clock()))

    def _learn_script(self, node: int, command: Command, reply: Any) -> None:
        """Record from a reply to a script command whether the node has the script cached."""
        if command.on_noscript is None:
            return
        if isinstance(reply, NoScriptError):
            self._cached_scripts[node].discard(command.args[1])
        else:
            self._cached_scripts[node].add(command.args[1])

    @staticmethod
    def _readable(in_flight: Mapping[int, _Line], wait: float) -> list[int]:
        by_fd: dict[int, int] = {}
        ready: list[int] = []
        for node, line in in_flight.items():
            sock = line.conn._sock
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

    def _read_reply(self, node: int, replies: Replies, in_flight: dict[int, _Line]) -> None:
        """Read what arrived on the node's line: earlier calls' late replies first, then the call's own."""
        line = in_flight[node]
        try:
            value = self._read_past_late_replies(node, line, keep=1)
        except Exception as error:  # noqa: BLE001 - connection lost, timeout: this node's vote
            del in_flight[node]
            _discard(line)
            replies.values[node] = error
            return
        if value is resp.INCOMPLETE:
            return  # the rest of the reply is on its way: stay in flight, block nobody
        command, _sent = line.owed.popleft()
        del in_flight[node]
        self._learn_script(node, command, value)
        if isinstance(value, NoScriptError) and command.on_noscript is not None:
            # the node lost its scripts: EVAL (chosen by _write now) runs and caches it there
            self._send(node, line, command, replies, in_flight)
            return
        self._keep_idle(node, line)
        replies.values[node] = value


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
    if not idle:
        return False
    return getattr(idle[-1], "_sock", None) is not None


def _checkout(pool: Any) -> Any:
    """A connected connection from the pool, with an empty reply buffer."""
    conn = pool.get_connection()
    resp.reset(conn)
    return conn


def _discard(line: _Line) -> None:
    """Close a line's connection (its owed replies are lost) and hand it back to its pool."""
    resp.reset(line.conn)
    try:
        line.conn.disconnect()
    finally:
        line.pool.release(line.conn)


def _wait_any(futures: Sequence[Future[Any]], timeout: float) -> None:
    event = threading.Event()
    for future in futures:
        future.add_done_callback(lambda _f: event.set())
    event.wait(timeout)
