"""Majority GET/SET: a versioned register over independent Redis servers, with read-repair.

Storage (one Redis hash per register key on every node)::

    mr:reg:<key>   c = version counter (decimal integer)
                   w = writer tag (40 decimal digits: 20 for the writer id, 20 for its write number)
                   v = the value (bytes); absent in a *tombstone* (a versioned delete)

A version is ``Version(counter, writer)`` and versions compare as that pair,
lexicographically. A node only ever stores a version greater than the one it
holds (the STORE script), so late, repeated or reordered writes never move a
node backwards. Every write tag is unique (writer id + a per-instance write
number), so two different values never share a version.

Modes (``Register(mr, consistency=...)``, or ``MajorityRedis(..., consistency=...)``):

``"linearizable"`` (default) — multi-writer ABD:
  - write (set/delete): read the version of a quorum of nodes, then store
    ``(highest counter + 1, own tag)`` on every node and return once a quorum
    acknowledged (a node that already holds a greater version acknowledges
    too: our write is ordered just before that one).
  - read (get): read version and value from a quorum; the highest version
    wins. If fewer than a quorum already hold it, write it back to the nodes
    that are behind (or did not answer) until a quorum holds it, *then*
    return. This write-back is what makes a later read unable to see an
    older value, and it repairs stale and restarted-empty nodes.
  - cost: a write is two round trips; a read is one round trip when a quorum
    agrees, two when it has to repair.

``"fast"`` — last writer wins, as in the 2015 seed project. NOT linearizable:
  - write: one round; the version counter is the writer's wall clock
    (``wall_clock()``, the runtime's wall clock by default), so a writer whose clock
    is behind loses: its later write is silently invisible (lost update).
  - read: one round; returns the highest version among a quorum and repairs
    the nodes it saw behind *asynchronously* (the repair is sent on the
    connections that are ready, never awaited; best effort), so a later read
    may still miss a value an earlier read returned (reads can go back in
    time while a write is in flight).

Every operation returns as soon as a quorum answered (or can no longer
answer): the other nodes may receive a write later or, if their connection was
being re-established, not at all — reads repair them.

Failures: an operation that cannot reach a quorum before ``mr.timeout`` (one
deadline for all its phases) raises ``NoQuorum``. For a write the outcome is
then *unknown*: it may have been stored on some nodes, and a later read that
sees one of them repairs it into view. Tombstones are never removed (a
register key costs one small hash per node after its delete).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from majorityredis import arguments
from majorityredis.errors import NoQuorum
from majorityredis.fanout import Command, Replies
from majorityredis.scripts import Script

if TYPE_CHECKING:
    from majorityredis.client import MajorityRedis

KEY_PREFIX = "mr:reg:"
CONSISTENCY_MODES = ("linearizable", "fast")

STORE = Script("register_store", """\
-- Store a version of a register on this node if it is newer than the stored one.
-- KEYS[1]: the register hash (fields c = counter, w = writer tag, v = value; no v = tombstone)
-- ARGV[1]: counter (decimal, no leading zeros)   ARGV[2]: writer tag (40 decimal digits)
-- ARGV[3]: '1' = store ARGV[4] as the value, '0' = store a tombstone
-- Returns 1 if stored, 0 if the node already holds an equal or newer version (unchanged).
local stored = redis.call('HMGET', KEYS[1], 'c', 'w')
local c, w = stored[1], stored[2]
if c and w then
  -- counters are compared as decimal strings: wall-clock counters exceed Lua's 2^53 precision
  local nc, nw = ARGV[1], ARGV[2]
  if #nc < #c or (#nc == #c and (nc < c or (nc == c and nw <= w))) then
    return 0
  end
end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'c', ARGV[1], 'w', ARGV[2], 'v', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'c', ARGV[1], 'w', ARGV[2])
  redis.call('HDEL', KEYS[1], 'v')
end
return 1
""")


@dataclass(frozen=True, slots=True, order=True)
class Version:
    """A register version; greater wins. `writer` is 40 decimal digits, so str order = number order."""

    counter: int
    writer: str


@dataclass(frozen=True, slots=True)
class Versioned:
    """A value with its version. value None + a version = tombstone; version None = never written."""

    value: bytes | None
    version: Version | None

    def newer_than(self, other: Versioned) -> bool:
        if self.version is None:
            return False
        return other.version is None or self.version > other.version


ABSENT = Versioned(None, None)


def storage_key(key: str | bytes) -> str | bytes:
    """The Redis key holding register `key` on every node."""
    return KEY_PREFIX.encode() + key if isinstance(key, bytes) else KEY_PREFIX + key


def encode_value(value: bytes | str | int | float) -> bytes:
    """Values are stored as bytes: str as UTF-8, int and float as their decimal text (like redis-py)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):  # bool is an int; "True" is rarely what was meant
        raise TypeError("register values are bytes, str, int or float; convert bool explicitly")
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return repr(value).encode()
    raise TypeError(f"register values are bytes, str, int or float, not {type(value).__name__}: "
                    "serialize it first (e.g. json.dumps)")


def parse_reply(reply: Any) -> Versioned:
    """A node's ``HMGET <hash> c w v`` reply (raw bytes) as a Versioned; ValueError if malformed."""
    if not isinstance(reply, list) or len(reply) < 2:
        raise ValueError(f"unexpected register reply {reply!r}")
    counter, writer = reply[0], reply[1]
    if counter is None or writer is None:
        return ABSENT
    value = reply[2] if len(reply) > 2 else None
    return Versioned(value, Version(int(counter), writer.decode("ascii")))


class Register:
    """Versioned GET/SET over `mr`'s nodes; see the module docstring for the two modes.

    Thread-safe: one Register may serve many threads (each write gets its own tag).
    `writer_id` (default: 64 random bits) distinguishes writers with equal
    counters; `wall_clock` (ns) gives the fast mode's versions (default:
    the runtime's wall clock).
    """

    def __init__(self, mr: MajorityRedis, consistency: str = "linearizable", *,
                 writer_id: int | None = None, wall_clock: Callable[[], int] | None = None) -> None:
        if consistency not in CONSISTENCY_MODES:
            raise ValueError(f"consistency must be one of {CONSISTENCY_MODES}, not {consistency!r}")
        if writer_id is not None and not 0 <= writer_id < 10 ** 20:
            raise ValueError(f"writer_id must be in [0, 10**20), not {writer_id}")
        self.mr = mr
        self.consistency = consistency
        self.writer_id = mr.runtime.randbits(64) if writer_id is None else writer_id
        self.wall_clock = wall_clock or (lambda: int(mr.runtime.wall_clock() * 1e9))
        self._writes = 0
        self._writes_lock = mr.runtime.lock()

    # -- public -----------------------------------------------------------------
    def set(self, key: str | bytes, value: bytes | str | int | float) -> None:
        """Store `value` on a quorum. NoQuorum: not confirmed; it may still appear later."""
        self.write(key, encode_value(value), operation="set")

    def delete(self, key: str | bytes) -> None:
        """Store a tombstone on a quorum (get then returns None). NoQuorum as for set."""
        self.write(key, None, operation="delete")

    def get(self, key: str | bytes) -> bytes | None:
        """The newest value a quorum knows; None if absent or deleted. NoQuorum if no quorum answered."""
        return self.read(key).value

    def read(self, key: str | bytes) -> Versioned:
        """get() with the version it returned (ABSENT if no node that answered ever stored the key)."""
        arguments.register_key(key)
        deadline = self.mr.clock() + self.mr.timeout
        seen = self.collect(key, deadline=deadline, operation="get")
        newest = max(seen.values(), key=_order)
        if newest.version is None:
            return ABSENT
        behind = [node for node, held in seen.items() if newest.newer_than(held)]
        if self.consistency == "fast":
            if behind:
                self.repair_later(key, newest, behind)
            return newest
        holding = len(seen) - len(behind)
        if holding < self.mr.quorum:
            others = [node for node in range(len(self.mr.clients)) if node not in seen or node in behind]
            self.store(key, newest, others, already=holding, deadline=deadline,
                       operation="get (write-back of the newest version)")
        return newest

    def write(self, key: str | bytes, value: bytes | None, *, operation: str = "set") -> Version:
        """Store `value` (None = tombstone) under a new version on a quorum; returns the version."""
        arguments.register_key(key)
        deadline = self.mr.clock() + self.mr.timeout
        if self.consistency == "fast":
            counter = self.wall_clock()
        else:
            seen = self.collect(key, deadline=deadline, operation=f"{operation} (version read)",
                                with_value=False)
            newest = max(seen.values(), key=_order)
            counter = (newest.version.counter if newest.version else 0) + 1
        version = Version(counter, self._next_tag())
        self.store(key, Versioned(value, version), range(len(self.mr.clients)), already=0,
                   deadline=deadline, operation=operation)
        return version

    # -- primitives (one fan-out each) --------------------------------------------------
    def collect(self, key: str | bytes, *, deadline: float, operation: str,
                with_value: bool = True) -> dict[int, Versioned]:
        """What a quorum of nodes holds for `key` (node -> Versioned); NoQuorum if fewer answer."""
        fields = ("c", "w", "v") if with_value else ("c", "w")
        replies = self.mr.fanout.call(Command(("HMGET", storage_key(key), *fields)),
                                      done=self._quorum_answered(0), timeout=self._left(deadline))
        seen: dict[int, Versioned] = {}
        failed: dict[int, Any] = replies.errors()
        for node, reply in replies.ok().items():
            try:
                seen[node] = parse_reply(reply)
            except (ValueError, UnicodeDecodeError) as error:
                failed[node] = error
        if len(seen) < self.mr.quorum:
            raise self._no_quorum(operation, len(seen), failed)
        return seen

    def store(self, key: str | bytes, versioned: Versioned, nodes: Iterable[int], *, already: int,
              deadline: float, operation: str) -> None:
        """Send `versioned` to `nodes` until `already` + acknowledgements make a quorum; else NoQuorum.

        A node acknowledges when it holds this version or a newer one afterwards.
        """
        command = self._store_command(key, versioned)
        replies = self.mr.fanout.call({node: command for node in nodes}, done=self._quorum_answered(already),
                                      timeout=self._left(deadline))
        acked = already + len(replies.ok())
        if acked < self.mr.quorum:
            raise self._no_quorum(operation, acked, replies.errors())

    def repair_later(self, key: str | bytes, versioned: Versioned, nodes: list[int]) -> None:
        """Send `versioned` to `nodes` without waiting for their answers (fast mode's repair)."""
        command = self._store_command(key, versioned)
        self.mr.fanout.call({node: command for node in nodes}, done=lambda _replies: True)

    # -- helpers ----------------------------------------------------------------
    def _next_tag(self) -> str:
        with self._writes_lock:
            self._writes += 1
            number = self._writes
        return f"{self.writer_id:020d}{number:020d}"

    def _store_command(self, key: str | bytes, versioned: Versioned) -> Command:
        assert versioned.version is not None
        version, value = versioned.version, versioned.value
        args: list[str | bytes] = [str(version.counter), version.writer, "0" if value is None else "1"]
        if value is not None:
            args.append(value)
        return STORE.command([storage_key(key)], args)

    def _quorum_answered(self, already: int) -> Callable[[Replies], bool]:
        def decided(replies: Replies) -> bool:
            refused = len(replies.errors())
            return self.mr.tally(already + len(replies.values) - refused, refused).decided
        return decided

    def _left(self, deadline: float) -> float:
        return max(0.0, deadline - self.mr.clock())

    def _no_quorum(self, operation: str, agreed: int, failed: Mapping[int, Any]) -> NoQuorum:
        return NoQuorum(operation, quorum=self.mr.quorum, n_servers=self.mr.n_servers, agreed=agreed,
                        errors={self.mr.node_label(node): error for node, error in sorted(failed.items())})


def _order(versioned: Versioned) -> tuple[int, Version]:
    return (0, Version(0, "")) if versioned.version is None else (1, versioned.version)
