"""Majority GET/SET: a versioned register over independent Redis servers, with read-repair.

Storage (one Redis hash per register key on every node)::

    mr:reg:<key>   c = version counter (decimal integer)
                   w = writer tag (40 decimal digits: 20 for the writer id, 20 for its write number)
                   v = the value (bytes); absent in a *tombstone* (a versioned delete)
    mr:register-index   a set of every ``mr:reg:<key>`` stored on the node (what a resync copies)
    mr:register-synced  the node may vote (majorityredis.admission; written by a resync)

Nodes that lost their data. A node restarted empty (or new) lacks
``mr:register-synced``: its READ and STORE answer ABSTAIN, counted neither
as agreement nor as refusal, so a quorum never mixes it with a stale node
(issue 16: a write acknowledged by n1+n2, n2 restarted empty, n1 cut off —
without this, n2+n3 would answer an older value). The first register call
that meets such a node starts `Register.resync` in the background (one at a
time, retried by later calls, progress in the log); ``mr.resync()`` runs it
explicitly. Linearizable as long as a majority keeps its data at every
moment; if a majority lost it, the nodes stay out until an operator decides
(``mr.bootstrap_new_cluster()`` accepts the loss).

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

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from majorityredis import arguments
from majorityredis.admission import SYNC_ADMISSION_LUA, SYNCED_KEY, is_abstain
from majorityredis.errors import NoQuorum
from majorityredis.fanout import Command, Replies
from majorityredis.scripts import Script

log = logging.getLogger("majorityredis")

if TYPE_CHECKING:
    from majorityredis.client import MajorityRedis

KEY_PREFIX = "mr:reg:"
CONSISTENCY_MODES = ("linearizable", "fast")

STORE = Script("register_store", """\
-- Store a version of a register on this node if it is newer than the stored one.
-- KEYS[1]: the register hash (fields c = counter, w = writer tag, v = value; no v = tombstone)
-- KEYS[2]: the set of every register hash stored on this node (what a resync copies)
-- ARGV[1]: '1' = abstain unless this node is resynchronised, '0' = no check (recovery off, or
--          the resync itself writing to a node that lost its data)
-- ARGV[2]: counter (decimal, no leading zeros)   ARGV[3]: writer tag (40 decimal digits)
-- ARGV[4]: '1' = store ARGV[5] as the value, '0' = store a tombstone
-- Returns 1 if stored, 0 if the node already holds an equal or newer version (unchanged),
-- 'ABSTAIN' (unchanged) when the node is not resynchronised (majorityredis.admission).
""" + SYNC_ADMISSION_LUA + """\
if mr_abstains(ARGV[1]) then
  return 'ABSTAIN'
end
local stored = redis.call('HMGET', KEYS[1], 'c', 'w')
local c, w = stored[1], stored[2]
if c and w then
  -- counters are compared as decimal strings: wall-clock counters exceed Lua's 2^53 precision
  local nc, nw = ARGV[2], ARGV[3]
  if #nc < #c or (#nc == #c and (nc < c or (nc == c and nw <= w))) then
    return 0
  end
end
redis.call('SADD', KEYS[2], KEYS[1])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'c', ARGV[2], 'w', ARGV[3], 'v', ARGV[5])
else
  redis.call('HSET', KEYS[1], 'c', ARGV[2], 'w', ARGV[3])
  redis.call('HDEL', KEYS[1], 'v')
end
return 1
""")

READ = Script("register_read", """\
-- Read a register's version (and value) on this node.
-- KEYS[1]: the register hash   ARGV[1]: '1' = abstain unless resynchronised, '0' = no check
-- ARGV[2..]: the fields to read ('c', 'w' and optionally 'v')
-- Returns the HMGET reply, or 'ABSTAIN' when the node is not resynchronised.
""" + SYNC_ADMISSION_LUA + """\
if mr_abstains(ARGV[1]) then
  return 'ABSTAIN'
end
return redis.call('HMGET', KEYS[1], unpack(ARGV, 2))
""")

RESYNC_FINISH = Script("register_resync_finish", """\
-- Mark this node resynchronised, unless it lost its data again since the resync began.
-- KEYS[1]: the resync token key (set when the resync began)   KEYS[2]: the synced marker
-- ARGV[1]: this resync's token
-- Returns 1 marked, 0 the token is gone or another resync's (restarted meanwhile: not marked).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], '1')
redis.call('DEL', KEYS[1])
return 1
""")

RESYNC_TOKEN_KEY = "mr:register-resync"
INDEX_KEY = "mr:register-index"  # a set: every register hash this node stores


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
        self._check = "1" if mr.recovery else "0"
        self._resyncing: Any = None  # the background resync thread, while one runs
        self._resync_active = 0  # resyncs running (their own reads must not start another)

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
        replies = self.mr.fanout.call(READ.command([storage_key(key)], [self._check, *fields]),
                                      done=self._quorum_answered(0), timeout=self._left(deadline))
        seen: dict[int, Versioned] = {}
        failed: dict[int, Any] = replies.errors()
        for node, reply in replies.ok().items():
            if is_abstain(reply):
                failed[node] = ABSTAINED_ERROR
                continue
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
        acked = already + sum(1 for reply in replies.ok().values() if not is_abstain(reply))
        if acked < self.mr.quorum:
            failed: dict[int, Any] = {node: ABSTAINED_ERROR for node, reply in replies.ok().items()
                                      if is_abstain(reply)}
            raise self._no_quorum(operation, acked, {**replies.errors(), **failed})

    def repair_later(self, key: str | bytes, versioned: Versioned, nodes: list[int]) -> None:
        """Send `versioned` to `nodes` without waiting for their answers (fast mode's repair)."""
        command = self._store_command(key, versioned)
        self.mr.fanout.call({node: command for node in nodes}, done=lambda _replies: True)

    # -- recovery of nodes that lost their data (majorityredis.admission) -----------------
    def resync(self) -> list[str]:
        """Copy the register onto every reachable node that lost its data, then let it vote again.

        Steps: ask every node whether it is resynchronised (waits for all, up to
        the timeout); on each node that is not, record a fresh resync token;
        list every register key held by the resynchronised nodes that answered
        (each node's index set; they must be a quorum — every completed write is on a quorum of
        voting nodes, so on one of them); for each key, read the newest version
        from a quorum of voting nodes and store it on the recovering nodes;
        finally mark each recovering node synced — only if its token is still
        there (a node that restarted empty again meanwhile stays out).
        A write that completes during the resync is on a quorum of voting nodes
        already, so the recovering node may miss it without harm.

        When *every* node of the cluster answers and none is synced, the
        cluster is new (or lost all its data): they are all marked synced.
        Returns the labels of the nodes marked; NoQuorum when fewer than a
        quorum of synced nodes answered. Progress goes to the log.
        """
        self._resync_active += 1
        try:
            return self._resync()
        finally:
            self._resync_active -= 1

    def _resync(self) -> list[str]:
        mr = self.mr
        replies = mr.fanout.call(Command(("EXISTS", SYNCED_KEY)), n_servers=mr.n_servers)
        status = {node: reply for node, reply in replies.ok().items() if reply in (0, 1)}
        behind = sorted(node for node, reply in status.items() if reply == 0)
        if not behind:
            return []
        synced = sorted(node for node, reply in status.items() if reply == 1)
        token = mr.runtime.token_hex(16)
        mr.fanout.call({node: Command(("SET", RESYNC_TOKEN_KEY, token)) for node in behind})
        labels = ", ".join(mr.node_label(n) for n in behind)
        if not synced and len(behind) == mr.n_servers:
            log.warning("register: no node is resynchronised and all %d answered: a new cluster (or all "
                        "data lost); marking %s synced", mr.n_servers, labels)
        elif len(synced) < mr.quorum:
            raise self._no_quorum("resync (synced nodes to copy from)", len(synced), replies.errors())
        else:
            log.info("register: resynchronising %s from %d synced node(s)", labels, len(synced))
            keys = self._register_keys(synced)
            for done, key in enumerate(keys, 1):
                deadline = mr.clock() + mr.timeout
                seen = self.collect(key, deadline=deadline, operation="resync (read)")
                newest = max(seen.values(), key=_order)
                if newest.version is not None:
                    command = self._store_command(key, newest, check=False)
                    stored = mr.fanout.call({node: command for node in behind}, timeout=self._left(deadline))
                    behind = [node for node in behind if stored.values.get(node) in (0, 1)]
                    if not behind:
                        raise self._no_quorum("resync (copy)", 0, stored.errors())
                if done % 1000 == 0:
                    log.info("register: resync copied %d of %d key(s)", done, len(keys))
        finished = mr.fanout.call({node: RESYNC_FINISH.command([RESYNC_TOKEN_KEY, SYNCED_KEY], [token])
                                   for node in behind})
        marked = [node for node in behind if finished.values.get(node) == 1]
        if marked:
            log.info("register: %s resynchronised: voting again", ", ".join(mr.node_label(n) for n in marked))
        return [mr.node_label(node) for node in marked]

    def resync_in_background(self) -> None:
        """Start `resync` in a background thread unless one runs (register calls that meet an
        abstaining node do this; errors are logged, the next such call tries again)."""
        with self._writes_lock:
            if self._resyncing is not None and self._resyncing.is_alive():
                return

            def run() -> None:
                try:
                    self.resync()
                except Exception as error:  # noqa: BLE001 - a background task: log, retry later
                    log.warning("register: background resync failed (%s); retried by a later call", error)

            self._resyncing = self.mr.runtime.start_thread(run, "majorityredis-register-resync")

    def _register_keys(self, nodes: list[int]) -> list[str | bytes]:
        """Every register key (without the prefix) in the index of any of `nodes` (SMEMBERS), each once."""
        replies = self.mr.fanout.call({node: Command(("SMEMBERS", INDEX_KEY)) for node in nodes})
        keys: dict[str | bytes, None] = {}
        prefix = KEY_PREFIX.encode()
        for node in nodes:
            names = replies.values.get(node)
            if not isinstance(names, (list, set)):
                raise self._no_quorum("resync (key listing)", 0, {node: names})
            for name in names:
                raw = name if isinstance(name, bytes) else str(name).encode()
                rest = raw[len(prefix):]
                try:
                    keys[rest.decode()] = None
                except UnicodeDecodeError:
                    keys[rest] = None
        return list(keys)

    # -- helpers ----------------------------------------------------------------
    def _next_tag(self) -> str:
        with self._writes_lock:
            self._writes += 1
            number = self._writes
        return f"{self.writer_id:020d}{number:020d}"

    def _store_command(self, key: str | bytes, versioned: Versioned, check: bool = True) -> Command:
        assert versioned.version is not None
        version, value = versioned.version, versioned.value
        args: list[str | bytes] = [self._check if check else "0", str(version.counter), version.writer,
                                   "0" if value is None else "1"]
        if value is not None:
            args.append(value)
        return STORE.command([storage_key(key), INDEX_KEY], args)

    def _quorum_answered(self, already: int) -> Callable[[Replies], bool]:
        def decided(replies: Replies) -> bool:
            # an abstaining node can never agree: for the decision it is as good as a refusal
            refused = sum(1 for v in replies.values.values() if isinstance(v, BaseException) or is_abstain(v))
            if refused and self.mr.recovery and not self._resync_active \
                    and any(is_abstain(v) for v in replies.values.values()):
                self.resync_in_background()
            return self.mr.tally(already + len(replies.values) - refused, refused).decided
        return decided

    def _left(self, deadline: float) -> float:
        return max(0.0, deadline - self.mr.clock())

    def _no_quorum(self, operation: str, agreed: int, failed: Mapping[int, Any]) -> NoQuorum:
        return NoQuorum(operation, quorum=self.mr.quorum, n_servers=self.mr.n_servers, agreed=agreed,
                        errors={self.mr.node_label(node): error for node, error in sorted(failed.items())})


ABSTAINED_ERROR = "abstained: lost its data, not resynchronised yet (see Register.resync)"


def _order(versioned: Versioned) -> tuple[int, Version]:
    return (0, Version(0, "")) if versioned.version is None else (1, versioned.version)
