"""A distributed lock over N independent Redis servers (a Redlock variant) with fencing tokens.

    lock = mr.lock("jobs:nightly", ttl=5.0)
    if lock.acquire(timeout=2.0):
        try:
            storage.write(data, fencing_token=lock.token)   # the resource rejects stale tokens
        finally:
            lock.release()

    with mr.lock("jobs:nightly", ttl=5.0, timeout=2.0) as held:   # LockNotAcquired if not acquired
        ...

Keys on every node: ``<name>`` holds a fresh random value per acquisition
(20 bytes from the runtime's `token_hex`: `secrets` for real) with a relative expiry (PX); ``<name>:fence``
is the fencing counter (no expiry).

Algorithm (one round trip on the fast path):

* **acquire** — every node runs ACQUIRE at once: if the lock key is absent it
  sets our value with PX ttl and INCRs the counter (a node without a counter —
  restarted empty, or never reached before — grants but reports its counter
  as *unknown* and does not invent one). The acquisition holds when a quorum
  of nodes granted *with the same known counter value T*: T is the token.
  Otherwise (counters out of step or unknown: a node restarted empty, a
  partial acquisition that bumped some counters, the very first acquisition)
  the attempt waits — when the granting quorum has an unknown counter — for
  every node's reply (until its deadline; with known counters a quorum of
  grants is enough, as on the fast path), the token M
  is the highest known counter (a node that did not grant counts its counter
  + 1: it may carry the last token; at least 1), WRITE_BACK raises
  every node's counter to at least M, and the acquisition holds when a quorum
  of nodes still holds our value and now has a counter >= M. On the fast
  path, nodes seen behind the token get a WRITE_BACK too (not waited for).
  Validity = ttl − elapsed since the attempt started (monotonic) − drift
  (ttl·drift_factor + drift_ms). An attempt without a quorum, or whose
  validity is used up, is undone at once on every node (RELEASE, which
  deletes only our value) and retried after a random delay.
* **extend** — EXTEND renews our value's expiry where it holds it, re-creates
  it (and raises the counter to our token) where the key is absent — a node
  that lost it (replaced, restarted empty): *self-healing* — and refuses where
  someone else's value is. It succeeds when a quorum renewed or healed before
  the current validity ran out; a failed extend means the lock is **lost**
  (validity 0, `lock.lost` is set): the caller must stop using the resource.
* **release** — RELEASE on every node; it returns once a quorum confirmed
  our value is gone there (so no quorum holds it any more: another client
  can be granted at once). The other nodes still get the RELEASE (after
  whatever this client sent them before); one that never gets it (down,
  cut off) drops the key when its ttl runs out and until then refuses
  other clients — which a quorum elsewhere outvotes.

What a call waits for (a silent minority costs no call the client timeout):
ACQUIRE waits until the outcome is decided (a quorum granted at one counter,
or too few can grant) — except the slow path below with an unknown counter
among the grants, which waits for every node whose counter may carry the
last token, but not for a node that has answered nothing for longer than
the timeout (majorityredis.liveness: the deadline would bring nothing more
from it, and the decision taken without it is the one taken at the
deadline); WRITE_BACK waits for a quorum
at the token; EXTEND for a quorum renewed (or too few can); RELEASE for a
quorum confirmed; the undo of a failed attempt and the counter healing wait
for nothing (see `Lock._undo`).

Fencing tokens. Every successful acquisition of a name gets a token strictly
greater than the token of every earlier successful acquisition of that name.
Why: (1) a success leaves a quorum of nodes that hold its value with a
counter >= its token (equal to it on the fast path; raised by WRITE_BACK
otherwise); (2) the token of an acquisition is >= the counter its own INCR
produced on every node with a known counter in a granting quorum it heard
from (equal known counters, or the maximum of all known ones); that quorum
shares a node with the quorum an earlier hold left behind (1) — a node with
a counter, so known unless it lost its data — and the later acquisition was
granted there only after the earlier value was gone, so its INCR there
exceeded the earlier token.
Raising a counter is always safe, so write-backs also go to nodes that did
not grant (healing them, not waited for). `tests/unit/test_lock_decisions.py`
checks this on a model with arbitrary reachability and reply order.

Assumptions (what the tests and the harness rely on):

* **A node that lost its data abstains until every hold it may have granted
  has expired** (majorityredis.admission; enforced by the nodes, no operator
  rule): the first ACQUIRE/EXTEND/WRITE_BACK that meets a node without the
  admission marker starts a recovery period of ``max_ttl`` on the node's own
  clock and abstains (nothing changed, counted neither as grant nor refusal);
  once it expired the node is admitted and votes again. Holds longer than
  ``mr.max_ttl`` are refused (ValueError). With ``MajorityRedis(recovery=False)``
  the old delayed-restart rule is the operator's again.
* A node restarted empty also loses its counter; admission does not bring
  it back. Such a node reports its counter as unknown, so it
  never takes part in a fast-path token; the slow path waits for every
  reachable node and takes the highest counter, and counters are spread
  beyond the quorum (write-backs go to all nodes, the fast path heals nodes
  it sees behind, extends raise the counter on every node they reach). So a
  token stays larger than the previous one as long as the acquisition hears
  from at least one node that kept its data and carried the previous token;
  if every such node is unreachable at that moment, a token can repeat
  (a majority losing its data at once is outside what recovery protects).
  Persistence (``appendfsync always``) removes the risk.
* Clocks of clients and servers advance at the same rate within the drift
  (``ttl·drift_factor + drift_ms``); no synchronised wall clock is needed.

A `Lock` object is one holder: use it from one thread (its auto-extend thread
is handled internally); share the `MajorityRedis`, not the `Lock`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from majorityredis import arguments
from majorityredis.admission import TIME_ADMISSION_LUA, check_hold_ttl, is_abstain, max_ttl_ms
from majorityredis.errors import LockNotAcquired, LockNotOwned, MajorityRedisError, NoQuorum
from majorityredis.fanout import Command, Replies
from majorityredis.runtime import ThreadLike
from majorityredis.scripts import Script
from majorityredis.validity import check_ttl, drift_seconds, hold_deadline

if TYPE_CHECKING:
    from majorityredis.client import MajorityRedis

log = logging.getLogger("majorityredis")

ACQUIRE = Script("lock_acquire", """\
-- KEYS[1]: lock key, KEYS[2]: fencing counter key
-- ARGV[1]: our random value, ARGV[2]: ttl in ms, ARGV[3]: max_ttl in ms (0: recovery off)
-- returns {granted (1/0), counter, known (1/0)}: when the lock key was absent it is set to
-- our value and an existing counter is INCRed; an absent counter (a node restarted empty,
-- or one that never took part) is left absent and reported as {.., 0, 0}: unknown, not 0;
-- or 'ABSTAIN' (nothing changed) while the node is not admitted (majorityredis.admission)
""" + TIME_ADMISSION_LUA + """\
if mr_abstains(ARGV[3]) then
  return 'ABSTAIN'
end
local known = redis.call('EXISTS', KEYS[2])
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if known == 1 then
    return {1, redis.call('INCR', KEYS[2]), 1}
  end
  return {1, 0, 0}
end
return {0, tonumber(redis.call('GET', KEYS[2]) or '0'), known}
""")

WRITE_BACK = Script("lock_write_back", """\
-- KEYS[1]: lock key, KEYS[2]: fencing counter key
-- ARGV[1]: our random value, ARGV[2]: token M, ARGV[3]: max_ttl in ms (0: recovery off)
-- raises the counter to at least M (always safe: counters only grow);
-- returns {1 if the lock key still holds our value else 0, counter now},
-- or 'ABSTAIN' (nothing changed) while the node is not admitted
""" + TIME_ADMISSION_LUA + """\
if mr_abstains(ARGV[3]) then
  return 'ABSTAIN'
end
local fence = tonumber(redis.call('GET', KEYS[2]) or '0')
local token = tonumber(ARGV[2])
if fence < token then
  redis.call('SET', KEYS[2], ARGV[2])
  fence = token
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return {1, fence}
end
return {0, fence}
""")

EXTEND = Script("lock_extend", """\
-- KEYS[1]: lock key, KEYS[2]: fencing counter key
-- ARGV[1]: our random value, ARGV[2]: new ttl in ms, ARGV[3]: our token
-- ARGV[4]: max_ttl in ms (0: recovery off)
-- returns 1 (renewed), 2 (the key was absent: re-created, counter raised to our token: healed)
-- or 0 (someone else's value is there), or 'ABSTAIN' (nothing changed) while not admitted
""" + TIME_ADMISSION_LUA + """\
if mr_abstains(ARGV[4]) then
  return 'ABSTAIN'
end
local current = redis.call('GET', KEYS[1])
local renewed = 1
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
elseif current then
  return 0
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  renewed = 2
end
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], ARGV[3])
end
return renewed
""")

RELEASE = Script("lock_release", """\
-- KEYS[1]: lock key
-- ARGV[1]: our random value
-- returns 1 when our value was deleted, 0 when the key is absent or holds another value
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
""")

VALUE_BYTES = 20  # entropy of a hold's random value (hex-encoded on the wire)


# --------------------------------------------------------------------------------------------
# Pure decisions (no I/O): what a set of node replies means. Property-tested.
# --------------------------------------------------------------------------------------------

class Abstention:
    """The vote of a node that lost its data and is not admitted yet: neither grant nor refusal."""

    def __repr__(self) -> str:
        return "ABSTAINED"


ABSTAINED = Abstention()

Vote = tuple[bool, int, bool] | Abstention | None
"""One node's answer: (granted or still held, its fencing counter, whether that counter is
known — False when the node has no counter), ABSTAINED for a node that is not admitted
(majorityredis.admission), or None for an error."""


def _grant(vote: Vote) -> bool:
    return isinstance(vote, tuple) and vote[0]


@dataclass(frozen=True, slots=True)
class AcquireDecision:
    """What the replies to ACQUIRE (or WRITE_BACK) so far mean.

    `outcome`: "acquired" (token is the fencing token), "write_back" (a quorum
    granted but their counters differ: write `token` back, then decide again
    with `decide_write_back`), "refused" (a quorum can no longer grant) or
    "wait" (more replies may change the outcome).
    """

    outcome: str
    token: int | None = None


WAIT = AcquireDecision("wait")
REFUSED = AcquireDecision("refused")


def decide_acquire(votes: Mapping[int, Vote], n_servers: int, quorum: int, *,
                   final: bool = False) -> AcquireDecision:
    """Decide an acquisition from the ACQUIRE replies received so far.

    A quorum of granting nodes with known, equal counters T -> acquired with
    token T (their counters are exactly T, and T exceeds the counter any
    earlier hold left on them): decided at once. A quorum can no longer grant
    -> refused. A quorum granted but no known counter value has a quorum (out
    of step, or nodes without a counter) -> wait for every node (`final`: no
    more replies will come), then write back `slow_path_token(votes)`, so
    that a node that lost its counter cannot pull the token below one that
    the others still carry. Nodes missing from `votes` have not answered.
    An abstaining node (ABSTAINED) neither grants nor refuses: it is just one
    node fewer that could grant, and its counter is ignored.
    """
    grants: dict[int, int] = {}
    granted = 0
    for vote in votes.values():
        if isinstance(vote, tuple) and vote[0]:
            granted += 1
            if vote[2]:
                grants[vote[1]] = grants.get(vote[1], 0) + 1
    for fence, count in grants.items():
        if count >= quorum:
            return AcquireDecision("acquired", fence)
    unanswered = n_servers - len(votes)
    if granted + unanswered < quorum:
        return REFUSED
    if granted >= quorum and (final or unanswered == 0 or sum(grants.values()) >= quorum):
        # A quorum of grants with known counters carries the previous token on one of its nodes
        # (the fast path's argument), so the nodes still silent cannot raise what it needs: no
        # wait for them. Only unknown counters in the granting quorum make every node's answer
        # count (one of the silent ones may be the carrier).
        return AcquireDecision("write_back", slow_path_token(votes))
    return WAIT


def slow_path_token(votes: Mapping[int, Vote]) -> int:
    """The token of an out-of-step acquisition: the highest known counter, where a node that
    did not grant (so did not INCR) counts one more than its counter — it may carry the token
    of the last hold itself — and at least 1."""
    token = 1
    for vote in votes.values():
        if isinstance(vote, tuple) and vote[2]:
            token = max(token, vote[1] if vote[0] else vote[1] + 1)
    return token


def decide_write_back(votes: Mapping[int, Vote], token: int, n_servers: int,
                      quorum: int) -> AcquireDecision:
    """Decide from WRITE_BACK replies: acquired once a quorum holds our value with counter >= token.

    Holding our value implies the node granted this attempt, so nodes whose
    ACQUIRE reply was never read count too.
    """
    ok = sum(1 for vote in votes.values() if isinstance(vote, tuple) and vote[0] and vote[1] >= token)
    if ok >= quorum:
        return AcquireDecision("acquired", token)
    if ok + (n_servers - len(votes)) < quorum:
        return REFUSED
    return WAIT


def as_vote(reply: Any) -> Vote:
    """A raw ACQUIRE ([granted, counter, known]) or WRITE_BACK ([held, counter]) reply as a Vote.

    An abstention -> ABSTAINED. Errors and odd replies -> None.
    """
    if is_abstain(reply):
        return ABSTAINED
    if isinstance(reply, list) and len(reply) in (2, 3) and all(isinstance(x, int) for x in reply):
        return (reply[0] == 1, reply[1], len(reply) == 2 or reply[2] == 1)
    return None


# --------------------------------------------------------------------------------------------
# The lock
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Hold:
    """One acquisition: our random value, its fencing token, and until when (mr.clock) it is safe."""

    value: bytes
    token: int
    expires_at: float
    lost: bool = False


@dataclass(frozen=True, slots=True)
class Attempt:
    """The result of one `do_acquire`: token and expiry on success, else why it failed."""

    token: int | None
    expires_at: float
    failure: NoQuorum | None = None


class Lock:
    """A majority lock with fencing tokens; see the module docstring for the algorithm.

    Parameters (seconds unless noted): `ttl` — how long an acquisition or
    extend holds without renewal; `timeout` — how long `with lock:` waits to
    acquire (None: until acquired); `auto_extend` — renew in a daemon thread
    every ttl/3 while held (a failed renewal sets `lost`); `drift_factor`,
    `drift_ms` — the validity margin; `retry_delay` — (min, max) random pause
    between attempts; `rng` — a `random.Random` for those pauses (seed it to
    replay). The attribute `sleep` (default the runtime's) waits between attempts.

    State: `acquire` -> held; `extend` failure or expiry -> lost (validity 0,
    token still readable); `release` -> holds nothing. `token` raises
    LockNotOwned when the object holds nothing (before the first acquire,
    after release). `lost` (an Event: threading.Event for real) is set when a renewal — by
    the auto-extend thread or by `extend()` — fails, and cleared by the next
    successful acquire. Acquiring again on an object whose hold expired or
    was lost first deletes that hold's value where it remains.

    What returns False and what raises: `acquire` returns False when the lock
    was not acquired within the timeout — held elsewhere *or* no quorum
    reachable (`last_failure` then says which nodes failed); `extend` returns
    False when the hold is lost; `release` raises NoQuorum when fewer than a
    quorum of nodes confirmed (the key expires there after the ttl at the
    latest) and LockNotOwned when the hold had already expired or been lost
    before release (the protected work may have overlapped another holder);
    `with` raises LockNotAcquired and never runs the block unheld.
    """

    def __init__(self, mr: MajorityRedis, name: str, ttl: float = 5.0, *, timeout: float | None = None,
                 auto_extend: bool = False, drift_factor: float = 0.01, drift_ms: float = 2,
                 retry_delay: tuple[float, float] = (0.05, 0.2), rng: random.Random | None = None) -> None:
        name = arguments.key_name("lock", name)
        arguments.check_finite(ttl=ttl, timeout=timeout, drift_factor=drift_factor, drift_ms=drift_ms,
                               retry_delay=tuple(retry_delay))
        if not name:
            raise ValueError("a lock needs a non-empty name")
        _check_ttl_ms(ttl)
        if drift_factor < 0 or drift_ms < 0:
            raise ValueError(f"drift_factor and drift_ms must be >= 0, not {drift_factor}, {drift_ms}")
        check_ttl(ttl, drift_factor, drift_ms)
        check_hold_ttl(ttl, mr.max_ttl, f"lock {name!r}:")
        low, high = retry_delay
        if not 0 <= low <= high:
            raise ValueError(f"retry_delay must be (min, max) with 0 <= min <= max, not {retry_delay}")
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 seconds or None, not {timeout}")
        self.mr = mr
        self.name = name
        self.ttl = float(ttl)
        self.timeout = timeout
        self.auto_extend = auto_extend
        self.drift_factor = drift_factor
        self.drift_ms = drift_ms
        self.retry_delay = (float(low), float(high))
        runtime = mr.runtime
        self.rng = rng if rng is not None else runtime.random()
        self.lost = runtime.event()
        self.last_failure: NoQuorum | None = None
        self.sleep: Callable[[float], None] = runtime.sleep
        self._keys = (name, f"{name}:fence")
        self._max_ttl_ms = max_ttl_ms(mr.max_ttl)
        self._hold: Hold | None = None
        self._mutex = runtime.rlock()
        self._renewer: ThreadLike | None = None
        self._stop_renewing = runtime.event()
        # EVALSHA/EVAL prefixes, built once: the hot path only appends its arguments
        self._prefixes = {ACQUIRE.name: (("EVALSHA", ACQUIRE.sha, 2, *self._keys),
                                         ("EVAL", ACQUIRE.source, 2, *self._keys))}
        self._release_prefixes = (("EVALSHA", RELEASE.sha, 1, name), ("EVAL", RELEASE.source, 1, name))

    # -- public ------------------------------------------------------------------------------
    def acquire(self, blocking: bool = True, timeout: float | None = 2.0) -> bool:
        """Try to acquire; True when held. Retries until `timeout` (None: forever) unless not blocking.

        Each step of an attempt (ACQUIRE, a write-back, the undo of a failed
        attempt) is bounded by the client timeout, and attempts after the
        first by what is left of `timeout`, so the call returns within
        `timeout` plus about three client timeouts. A
        lock held elsewhere and an unreachable majority both return False
        (`last_failure` tells them apart). Raises MajorityRedisError if this
        object already holds a valid hold.
        """
        arguments.check_finite(timeout=timeout)
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 seconds or None, not {timeout}")
        with self._mutex:
            stale = self._hold
            if stale is not None and not stale.lost and self.validity() > 0:
                raise MajorityRedisError(f"lock {self.name!r} is already held by this object "
                                         f"(token {stale.token}): release it before acquiring again")
        self._stop_renewer()  # a renewer of an expired or lost hold (outside the mutex: it may wait for it)
        if stale is not None:
            # an expired or lost hold that was never released: drop it, and its keys where they remain
            with self._mutex:
                if self._hold is stale:
                    self._hold = None
            self.do_release(stale.value)
        clock = self.mr.clock
        deadline = None if timeout is None else clock() + timeout
        per_attempt = min(self.mr.timeout, self.ttl - self.drift)
        first = True
        while True:
            budget = per_attempt
            if not first and deadline is not None:
                remaining = deadline - clock()
                if remaining <= 0:
                    return False
                budget = min(per_attempt, remaining)
            first = False
            value = self.mr.runtime.token_hex(VALUE_BYTES).encode()
            attempt = self.do_acquire(value, self.ttl, budget)
            if attempt.token is not None:
                with self._mutex:
                    self._hold = Hold(value, attempt.token, attempt.expires_at)
                    self.last_failure = None
                    self.lost.clear()
                    if self.auto_extend:
                        self._start_renewer(self._hold)
                return True
            self.last_failure = attempt.failure
            if not blocking:
                return False
            delay = self.rng.uniform(*self.retry_delay)
            if deadline is not None:
                remaining = deadline - clock()
                if remaining <= 0:
                    return False
                delay = min(delay, remaining)
            self.sleep(delay)

    @property
    def token(self) -> int:
        """The fencing token of this object's current (or lost, not yet released) hold."""
        hold = self._hold
        if hold is None:
            raise LockNotOwned(self.name, "no token before acquire() succeeded or after release()")
        return hold.token

    def validity(self) -> float:
        """Seconds the hold is still safe to rely on; 0.0 when not held, expired or lost."""
        hold = self._hold
        if hold is None or hold.lost:
            return 0.0
        return max(0.0, hold.expires_at - self.mr.clock())

    def locked(self) -> bool:
        """Whether this object holds the lock right now (validity() > 0)."""
        return self.validity() > 0.0

    def extend(self, ttl: float | None = None) -> bool:
        """Renew the hold for `ttl` (default: the lock's ttl) from now; False when the lock is lost.

        Heals nodes that lost the key. A failure (no quorum before the current
        validity ran out, or validity already 0) marks the hold lost and sets
        `lost`. Raises LockNotOwned when this object holds nothing.
        """
        arguments.check_finite(ttl=ttl)
        new_ttl = self.ttl if ttl is None else float(ttl)
        _check_ttl_ms(new_ttl)
        check_ttl(new_ttl, self.drift_factor, self.drift_ms)
        check_hold_ttl(new_ttl, self.mr.max_ttl, f"lock {self.name!r}: extend")
        with self._mutex:
            hold = self._hold
            if hold is None:
                raise LockNotOwned(self.name, "extend() needs a hold: acquire() first")
            return self._extend_locked(hold, new_ttl)

    def release(self) -> None:
        """Delete our value on every node; afterwards this object holds nothing.

        Returns once a quorum of nodes confirmed our value is gone there: no
        quorum holds it any more, so another client can be granted the lock
        at once. It is not "gone everywhere" yet: the other nodes are sent the
        RELEASE too but not waited for (a silent node would hold the call
        until the timeout); one that never gets it drops the key at expiry.

        Raises LockNotOwned when nothing is held, or (after cleaning up) when
        the hold had expired or was lost before release; NoQuorum when fewer
        than a quorum of nodes confirmed (the rest drop the key at expiry).
        """
        self._stop_renewer()
        with self._mutex:
            hold = self._hold
            if hold is None:
                raise LockNotOwned(self.name, "release() without a hold (never acquired or already released)")
            expired = hold.lost or self.validity() <= 0.0
            self._hold = None
            confirmed, replies = self.do_release(hold.value)
        if expired:
            raise LockNotOwned(self.name, f"the hold with token {hold.token} was "
                               f"{'lost' if hold.lost else 'expired'} before release; its keys were deleted "
                               "where still present, but the protected work may have overlapped another holder")
        if confirmed < self.mr.quorum:
            raise NoQuorum(f"release lock {self.name!r}", quorum=self.mr.quorum, n_servers=self.mr.n_servers,
                           agreed=confirmed, errors=self._errors(replies))

    def __enter__(self) -> Lock:
        if not self.acquire(blocking=True, timeout=self.timeout):
            raise LockNotAcquired(self.name, self.timeout) from self.last_failure
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.release()
            return
        try:
            self.release()
        except MajorityRedisError as error:  # do not mask the block's own exception
            log.warning("releasing lock %r after an exception failed: %s", self.name, error)

    def __repr__(self) -> str:
        hold = self._hold
        state = "unheld" if hold is None else ("lost" if hold.lost or not self.locked() else "held")
        return f"Lock({self.name!r}, ttl={self.ttl:g}, {state}" + (f", token={hold.token})" if hold else ")")

    @property
    def drift(self) -> float:
        return drift_seconds(self.ttl, self.drift_factor, self.drift_ms)

    # -- primitives (one algorithm step each; tests drive them directly) -------------------------
    def do_acquire(self, value: bytes, ttl: float, timeout: float) -> Attempt:
        """One acquisition attempt with `value`: ACQUIRE, maybe WRITE_BACK, undo on failure."""
        mr = self.mr
        clock = mr.clock
        n_servers, quorum = mr.n_servers, mr.quorum
        start = clock()
        ttl_ms = int(ttl * 1000)
        sha_prefix, eval_prefix = self._prefixes[ACQUIRE.name]
        tail = (value, ttl_ms, self._max_ttl_ms)
        command = Command(sha_prefix + tail, eval_prefix + tail)
        decision = WAIT

        def decided(replies: Replies) -> bool:
            nonlocal decision
            votes = {node: as_vote(v) for node, v in replies.values.items()}
            decision = decide_acquire(votes, n_servers, quorum)
            if decision is WAIT and mr.silence.awaited_all(replies.values, quorum):
                # only silent nodes are missing: the deadline would bring nothing more (liveness)
                decision = decide_acquire(votes, n_servers, quorum, final=True)
                return True
            return decision is not WAIT

        replies = mr.fanout.call(command, done=decided, timeout=timeout, n_servers=n_servers)
        if decision is WAIT:  # the call ended at the deadline, with every reply read, or without silent nodes
            decision = decide_acquire(self._votes(replies), n_servers, quorum, final=True)
        token = decision.token
        expires_at = hold_deadline(start, ttl, self.drift_factor, self.drift_ms)
        written: Replies | None = None
        if decision.outcome == "acquired":
            assert token is not None
            self._heal_counters(value, token, replies)
        elif decision.outcome == "write_back":
            assert token is not None
            log.debug("lock %r: fencing counters out of step or unknown; writing back %d",
                      self.name, token)
            # its own budget: waiting for a silent node can use up the attempt's, and a write-back
            # without time would fail every out-of-step attempt while a node is partitioned away
            written = self._write_back(value, token, max(0.0, min(mr.timeout, expires_at - clock())))
            if decide_write_back(self._votes(written), token, n_servers, quorum).outcome != "acquired":
                token = None
        else:
            token = None
        if token is not None and clock() < expires_at:
            return Attempt(token, expires_at)
        self._undo(value)
        granted = sum(1 for vote in self._votes(replies).values() if _grant(vote))
        failure = NoQuorum(f"acquire lock {self.name!r}", quorum=quorum, n_servers=n_servers,
                           agreed=granted, errors=self._errors(replies, refusal="held by another client"))
        if token is not None:
            failure.errors["validity"] = "the quorum answered after the ttl minus drift had passed"
        return Attempt(None, 0.0, failure)

    def do_extend(self, hold: Hold, ttl: float) -> float | None:
        """One EXTEND round; the new expiry (mr.clock) on success, None when no quorum in the validity."""
        mr = self.mr
        clock = mr.clock
        start = clock()
        remaining = hold.expires_at - start
        if hold.lost or remaining <= 0:
            return None
        tail = (hold.value, int(ttl * 1000), hold.token, self._max_ttl_ms)
        quorum = mr.quorum

        def decided(replies: Replies) -> bool:
            agreed = replies.count(_renewed)
            return mr.tally(agreed, len(replies.values) - agreed).decided

        replies = mr.fanout.call(self._eval_command(EXTEND, tail), done=decided,
                                 timeout=min(mr.timeout, remaining), n_servers=mr.n_servers)
        healed = [node for node, v in replies.values.items() if v == 2]
        if healed:
            log.info("lock %r: extend re-created the hold on %s", self.name,
                     ", ".join(mr.node_label(n) for n in healed))
        if replies.count(_renewed) >= quorum and clock() < hold.expires_at:
            return hold_deadline(start, ttl, self.drift_factor, self.drift_ms)
        return None

    def do_release(self, value: bytes) -> tuple[int, Replies]:
        """RELEASE on every node; returns once a quorum confirmed (or can no longer confirm).

        Every node is sent the RELEASE; the call waits only until a quorum
        confirmed that our value is no longer there, or until so many failed
        that a quorum cannot (then until the client timeout for the rest).
        The nodes not waited for still run it — the fan-out sends to every
        node and keeps each node's commands in order — and a node that never
        gets it (down, cut off) drops the key when its PX ttl runs out.
        Waiting for the last nodes would buy nothing the caller can use: the
        release is safe at once (the hold ends when release is called), and a
        silent node would hold the call until the timeout.

        Returns how many nodes confirmed so far, and the replies.
        """
        sha_prefix, eval_prefix = self._release_prefixes
        mr = self.mr

        def decided(replies: Replies) -> bool:
            confirmed = replies.count(_released)
            return mr.tally(confirmed, len(replies.values) - confirmed).decided

        replies = mr.fanout.call(Command(sha_prefix + (value,), eval_prefix + (value,)),
                                 done=decided, n_servers=mr.n_servers)
        return replies.count(_released), replies

    # -- internals ---------------------------------------------------------------------------
    def _write_back(self, value: bytes, token: int, timeout: float) -> Replies:
        mr = self.mr
        tail = (value, token, self._max_ttl_ms)

        def decided(replies: Replies) -> bool:
            return decide_write_back(self._votes(replies), token, mr.n_servers, mr.quorum) is not WAIT

        # sent to every node (heals those that did not grant); only the decision is waited for
        return mr.fanout.call(self._eval_command(WRITE_BACK, tail), done=decided,
                              timeout=timeout, n_servers=mr.n_servers)

    def _heal_counters(self, value: bytes, token: int, replies: Replies) -> None:
        """Raise the counter of nodes that reported less than the token or none (sent, not waited for).

        The fast path needs only a quorum at the token; a node left behind (it
        restarted empty, or missed acquisitions) would otherwise stay behind,
        and counters that live on more nodes survive the loss of one node.
        """
        behind = [node for node, vote in self._votes(replies).items()
                  if isinstance(vote, tuple) and (vote[1] < token or not vote[2])]
        if behind:
            command = self._eval_command(WRITE_BACK, (value, token, self._max_ttl_ms))
            self.mr.fanout.call({node: command for node in behind}, done=lambda _r: True,
                                n_servers=self.mr.n_servers)

    def _undo(self, value: bytes) -> None:
        """Delete our value of a failed attempt on every node, waiting for none of them.

        Nothing the caller is told depends on the undo: the attempt failed
        whatever the nodes answer, and the value is fresh per attempt, so a
        value left behind never counts as a grant for anyone — it only keeps
        that node from granting others until its PX ttl runs out (liveness,
        never safety). Waiting would not make delivery surer either: the
        fan-out sends the undo to every node (a node still connecting gets it
        once connected) and runs it there before this client's next command
        to that node (the retry's ACQUIRE). So neither a node that granted nor
        a silent one is waited for; the latter would cost the whole client
        timeout on every contended attempt while a node is down.
        """
        sha_prefix, eval_prefix = self._release_prefixes
        self.mr.fanout.call(Command(sha_prefix + (value,), eval_prefix + (value,)),
                            done=_sent, n_servers=self.mr.n_servers)

    def _extend_locked(self, hold: Hold, ttl: float) -> bool:
        if self._hold is not hold:
            return False  # released or re-acquired meanwhile (auto-extend race)
        expires_at = None if hold.lost else self.do_extend(hold, ttl)
        if expires_at is None:
            if not hold.lost:
                log.warning("lock %r (token %d) lost: extend did not reach a quorum in time",
                            self.name, hold.token)
            self._hold = replace(hold, lost=True)
            self.lost.set()
            return False
        self._hold = replace(hold, expires_at=expires_at)
        return True

    def _start_renewer(self, hold: Hold) -> None:
        stop = self.mr.runtime.event()
        self._stop_renewing = stop
        interval = self.ttl / 3.0

        def renew() -> None:
            current = hold
            while not stop.wait(interval):
                with self._mutex:
                    if stop.is_set() or self._hold is None or self._hold.value != current.value:
                        return
                    if not self._extend_locked(self._hold, self.ttl):
                        return
                    current = self._hold

        self._renewer = self.mr.runtime.start_thread(renew, f"majorityredis-lock-renew-{self.name}")

    def _stop_renewer(self) -> None:
        self._stop_renewing.set()
        renewer, self._renewer = self._renewer, None
        if renewer is not None and renewer is not self.mr.runtime.current_thread():
            renewer.join(timeout=self.mr.timeout + 1.0)

    def _eval_command(self, script: Script, tail: tuple[Any, ...]) -> Command:
        """EVAL with the source, for calls that do not wait for every reply.

        The fan-out sends EVAL wherever it does not know the script is cached
        (first use, a new connection after a restart), but a node whose
        scripts were flushed while its connection stayed up answers an EVALSHA
        with NOSCRIPT, and a NOSCRIPT nobody waits for only switches that node
        to EVAL from the next call on. Such nodes are the ones EXTEND and
        WRITE_BACK exist to heal, so these two always carry the source.
        (ACQUIRE and RELEASE, the hot path, stay EVALSHA: a skipped ACQUIRE
        is a missing grant, RELEASE waits.)
        """
        return Command(("EVAL", script.source, 2, *self._keys, *tail))

    @staticmethod
    def _votes(replies: Replies) -> dict[int, Vote]:
        return {node: as_vote(v) for node, v in replies.values.items()}

    def _errors(self, replies: Replies, refusal: str = "refused") -> dict[str, object]:
        """Per-node reasons for a failed operation: exceptions, refusals, and silent nodes."""
        errors: dict[str, object] = {}
        for node in range(len(self.mr.clients)):
            v = replies.values.get(node)
            if node not in replies.values:
                errors[self.mr.node_label(node)] = "no reply (too late, or not needed for the decision)"
            elif isinstance(v, BaseException):
                errors[self.mr.node_label(node)] = v
            elif (vote := as_vote(v)) is ABSTAINED:
                errors[self.mr.node_label(node)] = "abstained: lost its data, not admitted yet (recovering)"
            elif isinstance(vote, tuple) and not vote[0]:
                errors[self.mr.node_label(node)] = refusal
        return errors


def _granted(reply: Any) -> bool:
    return _grant(as_vote(reply))


def _released(reply: Any) -> bool:
    """A RELEASE reply: our value is not there (any more): deleted (1) or absent/another's (0)."""
    return reply in (0, 1)


def _sent(_replies: Replies) -> bool:
    """The `done` of a call nobody waits for: it returns once every command is on its way."""
    return True


def _renewed(reply: Any) -> bool:
    return reply in (1, 2)


def _check_ttl_ms(ttl: float) -> None:
    """ValueError unless ttl is positive and at least the 1 ms that PX can express."""
    if not ttl > 0:
        raise ValueError(f"ttl must be > 0 seconds, not {ttl}")
    if ttl * 1000 < 1:
        raise ValueError(f"ttl must be at least 1 ms (expiry is set in ms), not {ttl} s")
