"""LockingQueue: a priority queue on N independent Redis servers; each item is held by one consumer at a time.

Guarantees (N nodes, quorum Q = N // 2 + 1; scripts and keys in
majorityredis.queue.scripts):

- ``put`` stores the item on every node it reaches and returns its id once
  Q nodes stored it. NoQuorum = outcome unknown: the item may be on some
  nodes and **may still be delivered later** (a get that meets it heals it
  onto the other nodes), or never.
- ``get`` holds the best available item — highest priority first, then
  oldest (ids sort by put time) — on a quorum and returns it as a Message
  with a validity (ttl minus elapsed time minus clock drift) and a fencing
  token. No two consumers ever hold the same item at the same time: a hold
  is granted on a node only where no hold exists, and two quorums share a
  node. An expired hold makes the item available again, so delivery is
  at-least-once with mutual exclusion.
- ``consume`` completes the item: removed from every node it reaches and a
  completed marker set for ``retention`` seconds on a quorum of nodes while
  the hold was ours. It is then never delivered again (see the
  assumptions). Completed markers expire: nothing grows without bound.
- Nothing acknowledged by put is lost while a majority of nodes keeps its
  data: a node that restarted empty gets items and holds back from the get
  or extend_lock that meets them (healing).

Assumptions (the same as the Lock's): node clocks run at about the same
rate (drift allowance ttl * drift_factor + drift_ms); a node that lost
its data (restart without `appendfsync always`) stays down for at least the
longest hold ttl — otherwise two consumers can hold one item — and, for the
"never delivered again" promise, a node must not lose its completed markers
within ``retention`` while another node keeps a stale copy of the item (a
copy that missed the consume because its node was cut off).

Algorithm per call (each step is one Fanout round to all nodes at once that
returns as soon as its outcome is decided):

- put: PUT (HSET + ZADD; where the id is already completed — a consumer
  got it from a node reached first and consumed it — it counts as stored).
- get: SCAN_AVAILABLE returns each node's first `candidates` ids that are
  neither held nor completed there (plus the held ids met on the way); a
  quorum must answer, and all nodes are waited for (up to the timeout) when
  that quorum offers nothing. Offers are merged in delivery order — items
  some node reported held go last — and tried one by one with GRANT (SET
  hold NX PX, INCR fence). A quorum of grants, with the payload from at
  least one of them (the round waits for it), = held: the token is the
  highest fence among the grants, written back to a quorum first when
  fewer than a quorum of granting nodes are at that value (so every later
  grant quorum INCRs past it); granting nodes that lacked the item are
  healed (HEAL). Fewer than a quorum: the partial hold is undone at once on
  every node (ABANDON) and the next candidate is tried.
- extend_lock: EXTEND renews the hold where it is still ours — and, while
  the hold is valid, takes it where nobody holds the item (a node the get's
  grant missed, or one that lost it); a quorum of them = renewed. Nodes
  that lost the item are healed afterwards, and so are nodes that lost the
  hold when it was no longer valid at the start. (Healing reaches the nodes
  whose answers were read before the outcome was decided; a node that
  answers later is healed by a later extend.)
- consume: CONSUME where the hold is ours — and, while the hold is valid,
  where nobody holds the item (a node the get's grant missed); a quorum of
  them = completed. Nodes that had lost the hold are then marked completed
  too (COMPLETE).
- release: ABANDON on every node (deletes the hold only where it is ours).

Where this departs from the first design, and why:

1. A node grants a hold on an item it does not store (it only must not hold
   or have completed it); the get still needs the payload from one granting
   node and heals the others. Requiring presence on every granting node
   loses items: a put acknowledged by exactly a quorum (the others were cut
   off), then one of those nodes restarts empty — a majority still has its
   data, yet only a minority stores the item, and it could never be held
   again. What keeps a consumed item from coming back is the completed
   marker, which a get meets on at least one node of any quorum.
2. A get that meets a completed marker purges the item everywhere (COMPLETE:
   delete, marker NX), so a stale copy on a node that missed the consume is
   removed the first time it is offered instead of coming back after the
   retention. Only a consumer that held the item writes a marker, so the
   item was processed at least once.
3. After a contended attempt (another consumer holds part of the nodes) the
   next candidate is picked at random among the next few, not strictly the
   next: consumers that collided on item k would otherwise split the votes
   on item k+1 too, in lockstep.
4. extend_lock counts a node where the hold is missing only while the hold
   is valid when the call starts — as consume does, and for the same
   reason: otherwise the loss of one node that carried the hold could leave
   too few holding nodes for any extend to succeed. It is safe: while our
   hold is valid on a quorum, no other consumer can hold the item on one.
   A hold that lapsed must not be silently re-acquired (someone may have
   held the item in between): then only the nodes where it is still ours
   count — also when it lapsed while the extend was under way. A failed
   extend (False) releases the remaining hold at once.
5. consume is safe to retry after NoQuorum: a node that already completed
   the item for this holder counts again (the marker stores the holder).
6. The scan reports the held ids it passes, and items reported held by any
   node are tried last: a consumer's GRANT may not have reached every node,
   and the node it missed offers the item as free — trying it first costs a
   round trip and breaks FIFO order for nothing. And when the first quorum
   offers nothing, the scan waits for the other nodes before answering None.
7. Because a get may take an item from the first node a put reached, a get
   can deliver (and a consumer consume) an item before its put returned;
   the put then meets completed markers and counts them as stored.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from majorityredis import arguments
from majorityredis.admission import check_hold_ttl, is_abstain, max_ttl_ms
from majorityredis.errors import LockNotOwned, NoQuorum
from majorityredis.fanout import Replies
from majorityredis.queue.message import Lease, Message
from majorityredis.queue.plan import (
    TOO_BIG,
    Candidate,
    Grant,
    ItemIds,
    QueueKeys,
    fencing_token,
    merge_candidates,
    parse_grant,
    parse_scan,
    score_of,
)
from majorityredis.queue.scripts import (
    ABANDON,
    COMPLETE,
    CONSUME,
    COUNT,
    EXTEND,
    GRANT,
    HEAL,
    PUT,
    RAISE_FENCE,
    SCAN_AVAILABLE,
)
from majorityredis.validity import check_ttl, hold_deadline

if TYPE_CHECKING:
    from majorityredis.client import MajorityRedis

log = logging.getLogger("majorityredis")

CONTENTION_SPREAD = 4   # after a contended attempt, pick the next candidate among this many
MAX_SCANS_PER_PASS = 4  # rescans in one get pass when every offer was taken and nodes had more
HELD_REPORTED = 8       # a scan reports up to this many held ids per free id asked for

# outcomes of one hold attempt that did not produce a Message
_CONTENDED = "contended"  # held by someone else on too many nodes (or the votes split)
_COMPLETED = "completed"  # a node has it marked completed: purged
_UNUSABLE = "unusable"    # no granting node had the payload, or the hold expired while taken


class LockingQueue:
    """A majority-quorum priority queue with exclusive holds (see the module docstring).

    `retention` (s): how long completed markers stay (an item is never
    redelivered within it, and beyond it only from a stale copy).
    `rng`: randomness for the choice among contended candidates and retry
    delays (seed it to replay). `candidates`: free ids each node offers per
    scan — about the number of consumers that compete (a pass rescans when
    all were taken; more costs reply parsing on every get).
    `scan_limit`: order entries a node examines per scan (held items are
    skipped, so a queue with more held items than this may look empty).
    `retry_delay` (s): longest pause between passes of `get(timeout=...)`
    (uniform between half of it and it). `drift_factor`, `drift_ms`: the
    clock-drift allowance of a hold (ttl * drift_factor + drift_ms).
    `wall_clock`: the clock item ids are made from (FIFO across producers;
    default the runtime's);
    `size_limit`: the most ids a node sends for `size()` (see there).
    `sleep`: how get waits between passes (default the runtime's).
    Thread-safe: consumers may share one instance.
    """

    def __init__(self, mr: MajorityRedis, name: str, *, retention: float = 3600.0,
                 rng: random.Random | None = None, candidates: int = 8, scan_limit: int = 10_000,
                 retry_delay: float = 0.05, drift_factor: float = 0.01, drift_ms: float = 2.0,
                 size_limit: int = 100_000,
                 wall_clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        name = arguments.key_name("queue", name)
        arguments.check_finite(retention=retention, retry_delay=retry_delay, drift_factor=drift_factor,
                               drift_ms=drift_ms)
        if not name:
            raise ValueError("a queue needs a non-empty name")
        if retention <= 0:
            raise ValueError(f"retention must be > 0 seconds, not {retention}")
        if size_limit < 0:
            raise ValueError(f"size_limit must be >= 0, not {size_limit}")
        if candidates < 1 or scan_limit < candidates:
            raise ValueError(f"need 1 <= candidates <= scan_limit, not {candidates} and {scan_limit}")
        if retry_delay < 0 or drift_factor < 0 or drift_ms < 0:
            raise ValueError(f"retry_delay, drift_factor and drift_ms must be >= 0, not {retry_delay}, "
                             f"{drift_factor}, {drift_ms}")
        self.mr = mr
        self.name = name
        self.keys = QueueKeys(name)
        self._max_ttl_ms = max_ttl_ms(mr.max_ttl)
        self.retention = retention
        runtime = mr.runtime
        self.rng = rng if rng is not None else runtime.random()
        self.candidates = candidates
        self.scan_limit = scan_limit
        self.retry_delay = retry_delay
        self.size_limit = size_limit
        # the largest item one timeout can carry (arguments.default_max_item_size); settable
        self.max_item_size = arguments.default_max_item_size(mr.timeout, mr.n_servers)
        self.drift_factor = drift_factor
        self.drift_ms = drift_ms
        self._ids = ItemIds(wall_clock or runtime.wall_clock, runtime.token_hex)
        self._sleep = sleep or runtime.sleep

    # -- public -------------------------------------------------------------------------
    def put(self, item: str | bytes, priority: int = 0) -> str:
        """Store `item` on a quorum and return its id.

        Raises NoQuorum when fewer than a quorum stored it: the outcome is then
        unknown — the item may still be delivered later (from the nodes that
        stored it), so a retry may deliver it twice.
        """
        payload = _payload(item)
        arguments.check_item_size(len(payload), self.max_item_size)
        score = score_of(priority)
        item_id = self._ids.next()
        keys = (self.keys.items, self.keys.order, self.keys.done(item_id))
        replies = self.mr.fanout.call(PUT.command(keys, (item_id, payload, score)),
                                      done=self._decided(_stored))
        if not self._reached(replies, _stored):
            raise self._no_quorum(f"put to queue {self.name!r}", replies, _stored)
        return item_id

    def get(self, ttl: float = 5.0, timeout: float | None = None) -> Message | None:
        """Hold the best available item for `ttl` seconds; None when none could be held.

        `timeout=None`: one pass over what the nodes offer, no waiting for new
        items (but an empty answer waits for every node, up to the
        MajorityRedis timeout: a node that is cut off delays an empty get —
        until it has answered nothing for longer than the timeout; see
        majorityredis.liveness).
        A number: keep trying (after short random pauses) until `timeout`
        seconds have passed; returns within `timeout` plus one pass (a pass
        starts no step after one MajorityRedis timeout, and each of its round
        trips is bounded by that timeout). Raises NoQuorum when a quorum
        of nodes could not be reached (in the last pass, with a timeout).
        """
        arguments.check_finite(ttl=ttl, timeout=timeout)
        check_ttl(ttl, self.drift_factor, self.drift_ms)
        check_hold_ttl(ttl, self.mr.max_ttl, f"queue {self.name!r}: get")
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be None or >= 0 seconds, not {timeout}")
        give_up = None if timeout is None else self.mr.clock() + timeout
        while True:
            failure: NoQuorum | None = None
            try:
                message = self._get_pass(ttl)
            except NoQuorum as error:
                message, failure = None, error
            if message is not None:
                return message
            remaining = 0.0 if give_up is None else give_up - self.mr.clock()
            if remaining <= 0:
                if failure is not None:
                    raise failure
                return None
            self._sleep(min(remaining, self.rng.uniform(self.retry_delay / 2, self.retry_delay)))

    def extend_lock(self, msg: Message, ttl: float | None = None) -> bool:
        """Renew the hold on `msg` for `ttl` seconds (default: its current ttl).

        True: held on a quorum again; msg.validity() is updated, and nodes that
        lost the hold or the item are healed. False: the hold was lost (it
        expired, or another consumer holds the item) — stop working on it; it
        is released everywhere and may be delivered again. Raises NoQuorum when
        too few nodes answered to tell (msg keeps its previous validity) — unless
        the hold lapsed while the call was under way: that is False.
        """
        self._check_message(msg)
        ttl = msg.ttl if ttl is None else ttl
        arguments.check_finite(ttl=ttl)
        check_ttl(ttl, self.drift_factor, self.drift_ms)
        check_hold_ttl(ttl, self.mr.max_ttl, f"queue {self.name!r}: extend_lock")
        lease = msg._lease
        if lease.ended:
            return False
        started = self.mr.clock()
        valid = msg.validity() > 0
        renewed = _renewed_or_taken if valid else _renewed
        keys = (self.keys.items, self.keys.hold(msg.id), self.keys.done(msg.id))
        replies = self.mr.fanout.call(EXTEND.command(keys, (msg.id, msg._holder, _ms(ttl), "1" if valid else "0",
                                                            self._max_ttl_ms)),
                                      done=self._decided(renewed))
        # lapsed during the call: a take may have come after another consumer held the item, so only
        # renewals count — and a quorum missed is a loss (the takes left our hold behind), not NoQuorum
        late = valid and self.mr.clock() >= lease.deadline
        if late:
            renewed = _renewed
        if self._reached(replies, renewed):
            deadline = hold_deadline(started, ttl, self.drift_factor, self.drift_ms)
            if deadline > self.mr.clock():
                lease.deadline, lease.ttl = deadline, ttl
                lost_here = [n for n, v in replies.ok().items() if v in (2, 3, 5)]
                if lost_here:
                    self._heal(msg.id, msg.item, -msg.priority, msg._holder,
                               ttl - (self.mr.clock() - started), lost_here)
                return True
        elif not late and self._for_lack_of_answers(replies, renewed):
            raise self._no_quorum(f"extend hold on {msg.id!r} in queue {self.name!r}", replies, renewed,
                                  refusal="hold not ours")
        lease.end()
        self._abandon(msg.id, msg._holder, wait_for=replies.ok())
        return False

    def consume(self, msg: Message) -> bool:
        """Complete `msg`: remove it everywhere and mark it completed, so it is never delivered again.

        True: completed on a quorum of nodes while this consumer held it.
        False: the hold was lost first (expired, or another consumer holds
        the item); the item may be delivered again — or not, if nodes that did
        complete it are met first (this consumer processed it either way).
        Raises NoQuorum when too few nodes answered (outcome unknown; a retry
        is safe).

        While the hold is valid (msg.validity() > 0 when the call starts), a
        node where nobody holds the item — the get's grant never reached it,
        or it lost its data — completes it too and counts: otherwise the
        loss of one node that carried the hold could leave too few holding
        nodes for any consume to succeed. It cannot let a consume succeed
        while another consumer holds the item: that one's quorum shares a node
        with ours, where its hold answers "held by someone else".
        """
        self._check_message(msg)
        lease = msg._lease
        if lease.ended:
            return False
        keys = self.keys.per_item(msg.id)
        valid = msg.validity() > 0
        completed = _completed if valid else _is(1)
        replies = self.mr.fanout.call(
            CONSUME.command(keys, (msg.id, msg._holder, _ms(self.retention), "1" if valid else "0")),
            done=self._decided(completed))
        if self._reached(replies, completed):
            lease.end()
            lost_here = [n for n, v in replies.ok().items() if v == 3]
            if lost_here:  # restarted empty or missed the get: mark completed there too (not waited for)
                self.mr.fanout.call({n: COMPLETE.command(keys, (msg.id, msg._holder, _ms(self.retention)))
                                     for n in lost_here}, done=_sent)
            return True
        if self._for_lack_of_answers(replies, completed):
            raise self._no_quorum(f"consume {msg.id!r} from queue {self.name!r}", replies, completed,
                                  refusal="hold not ours")
        lease.end()
        return False

    def release(self, msg: Message) -> None:
        """Give `msg` back: its hold is deleted wherever it is ours, so others can get it at once.

        Raises LockNotOwned if this consumer no longer holds it (already
        consumed or released here, or the hold expired on a quorum), NoQuorum
        if too few nodes answered to tell.
        """
        self._check_message(msg)
        lease = msg._lease
        if lease.ended:
            raise LockNotOwned(f"{self.name}/{msg.id}", "this message was already consumed or released, "
                                                        "or its hold was lost")
        lease.end()
        def decided(r: Replies) -> bool:  # a quorum ran it (or everyone answered)
            return self._reached(r, _any_answer) or len(r.values) == len(self.mr.clients)
        replies = self.mr.fanout.call(ABANDON.command((self.keys.hold(msg.id),), (msg._holder,)),
                                      done=decided)
        if replies.count(_is(1)):
            return
        if self._reached(replies, _any_answer):
            raise LockNotOwned(f"{self.name}/{msg.id}", "the hold had expired (the item may be held by "
                                                        "another consumer now)")
        raise self._no_quorum(f"release {msg.id!r} in queue {self.name!r}", replies, _any_answer)

    def size(self) -> int:
        """The number of distinct items — waiting or held, not consumed — stored on the nodes
        that answered (every node is asked and waited for, up to the MajorityRedis timeout —
        except a node that has answered nothing for longer than that timeout (majorityredis.liveness);
        a quorum must answer). When a node stores more than `size_limit` items, the ids are not
        transferred and the count is the largest number one answering node stores instead.

        0 means no answering node stores any item. The count includes an item
        whose put raised NoQuorum (it can still be delivered) and a stale copy
        of a consumed item on a node that the consume did not reach — until a
        get meets that copy when it is not held there (it is then purged).
        """
        def decided(r: Replies) -> bool:  # every node that is not silent answered
            return self.mr.silence.awaited_all(r.values, self.mr.quorum)
        replies = self.mr.fanout.call(COUNT.command((self.keys.order,), (self.size_limit,)), done=decided)
        answers = [v for v in replies.ok().values() if _is_list(v) and v]
        if not self.mr.tally(len(answers), 0).reached:
            raise self._no_quorum(f"size of queue {self.name!r}", replies, _is_list)
        if any(int(a[0]) > self.size_limit for a in answers):
            return max(int(a[0]) for a in answers)
        return len({item_id for a in answers for item_id in a[1:]})

    # -- get, step by step ------------------------------------------------------------
    def _get_pass(self, ttl: float) -> Message | None:
        """One scan of the nodes and a hold attempt on each offered item, best first.

        No new step (scan, hold attempt) starts after the MajorityRedis timeout
        has passed — except the first attempt after a slow scan — and each
        round trip is bounded by that timeout too.
        """
        deadline = self.mr.clock() + self.mr.timeout
        tried: set[str] = set()
        for _ in range(MAX_SCANS_PER_PASS):
            if tried and self.mr.clock() >= deadline:
                return None
            offered, maybe_more = self._scan()
            candidates = [c for c in offered if c.id not in tried]
            contended = False
            while candidates:
                if tried and self.mr.clock() >= deadline:  # (a slow scan still gets one attempt)
                    return None
                pick = self.rng.randrange(min(len(candidates), CONTENTION_SPREAD)) if contended else 0
                candidate = candidates.pop(pick)
                tried.add(candidate.id)
                outcome = self._try_hold(candidate, ttl)
                if isinstance(outcome, Message):
                    return outcome
                contended = contended or outcome == _CONTENDED
            if not maybe_more:
                return None
        return None

    def _scan(self) -> tuple[list[Candidate], bool]:
        """Merged offers of a quorum of nodes, and whether some node may have more to offer."""
        limits = (self.candidates, self.scan_limit, HELD_REPORTED * self.candidates)
        command = SCAN_AVAILABLE.command((self.keys.order,), (self.keys.prefix, *limits))
        replies = self.mr.fanout.call(command, done=self._scan_decided)
        if not self._reached(replies, _is_list):
            raise self._no_quorum(f"get from queue {self.name!r} (scan)", replies, _is_list)
        offers = [parse_scan(v) for v in replies.ok().values() if isinstance(v, list)]
        full = any(sum(o.free for o in node_offers) >= self.candidates for node_offers in offers)
        return merge_candidates(offers), full

    def _scan_decided(self, replies: Replies) -> bool:
        """A quorum answered and one of them offers something — or nobody can add anything more.

        When the first quorum offers nothing, the other nodes are waited for
        (up to the deadline): an item stored only on a minority (a put that
        raised NoQuorum, copies lost to a restart) is offered only by them, and
        "nothing available" is a claim about every node. Not for a node that
        has answered nothing for longer than the timeout (majorityredis.liveness):
        the deadline would bring nothing more from it.
        """
        answered = replies.count(_is_list)
        tally = self.mr.tally(answered, len(replies.values) - answered)
        if tally.impossible:
            return True
        return tally.reached and (any(_offers_free(v) for v in replies.values.values())
                                  or self.mr.silence.awaited_all(replies.values, self.mr.quorum))

    def _try_hold(self, candidate: Candidate, ttl: float) -> Message | str:
        holder = self.mr.runtime.token_hex(20)
        keys = (*self.keys.per_item(candidate.id), self.keys.fence)
        started = self.mr.clock()
        replies = self.mr.fanout.call(GRANT.command(keys, (candidate.id, holder, _ms(ttl), self.max_item_size,
                                                           self._max_ttl_ms)),
                                      done=self._grant_decided)
        grants: dict[int, Grant] = {}
        for node, value in replies.ok().items():
            try:
                grants[node] = parse_grant(value)
            except ValueError:
                log.warning("queue %s: node %s answered GRANT with %r",
                            self.name, self.mr.node_label(node), value)
        too_big = max((g.size for g in grants.values() if g.status == TOO_BIG), default=0)
        if too_big:  # it could not be fetched in time: skip it rather than fail every get
            log.warning("queue %s: skipping item %s: %d bytes, more than max_item_size %d (it cannot be "
                        "fetched within the timeout)", self.name, candidate.id, too_big, self.max_item_size)
            self._abandon(candidate.id, holder, wait_for=replies.ok())
            return _UNUSABLE
        granted = {n: g for n, g in grants.items() if g.granted}
        completed = any(g.status == -1 for g in grants.values())
        payload = next((g.payload for g in granted.values() if g.payload is not None), None)
        if len(granted) >= self.mr.quorum and payload is not None:
            message = self._hand_out(candidate, payload, holder, ttl, started, granted)
            if message is not None:
                return message
            return _UNUSABLE
        self._abandon(candidate.id, holder, wait_for=replies.ok(), purge=completed)
        unreachable = len(replies.errors()) + self.mr.n_servers - len(self.mr.clients)
        if self.mr.n_servers - unreachable < self.mr.quorum:  # down nodes, not contention
            raise self._no_quorum(f"get from queue {self.name!r} (hold {candidate.id!r})", replies, _granted)
        if completed:
            log.debug("queue %s: %s is completed on some node; purged stale copies", self.name, candidate.id)
            return _COMPLETED
        return _CONTENDED if len(granted) < self.mr.quorum else _UNUSABLE

    def _grant_decided(self, replies: Replies) -> bool:
        """A quorum granted and one of them sent the payload — or that can no longer change."""
        granted = replies.count(_granted)
        tally = self.mr.tally(granted, len(replies.values) - granted)
        if tally.impossible or self.mr.silence.awaited_all(replies.values, self.mr.quorum):
            return True   # (silent nodes are not waited for: see majorityredis.liveness)
        return tally.reached and any(_granted(v) and len(v) > 2 for v in replies.values.values())

    def _hand_out(self, candidate: Candidate, payload: bytes, holder: str, ttl: float, started: float,
                  granted: Mapping[int, Grant]) -> Message | None:
        """Finish a quorum hold: make its token safe, heal nodes that lacked the item; None = undone."""
        token, write_back = fencing_token({n: g.fence for n, g in granted.items()}, self.mr.quorum)
        if write_back and not self._raise_fence(token):
            self._abandon(candidate.id, holder, wait_for=granted)
            raise NoQuorum(f"get from queue {self.name!r} (fencing token {token} write-back)",
                           quorum=self.mr.quorum, n_servers=self.mr.n_servers, agreed=len(granted),
                           errors={})
        lease = Lease(hold_deadline(started, ttl, self.drift_factor, self.drift_ms), ttl, self.mr.clock)
        if lease.deadline <= self.mr.clock():  # the round took longer than the hold is safe
            self._abandon(candidate.id, holder, wait_for=granted)
            return None
        lacking = [n for n, g in granted.items() if g.payload is None]
        if lacking:
            hold_left = ttl - (self.mr.clock() - started)
            self._heal(candidate.id, payload, candidate.score, holder, hold_left, lacking)
        return Message(candidate.id, payload, token, candidate.priority, self.name, holder, lease)

    # -- primitives -----------------------------------------------------------------------
    def _raise_fence(self, token: int) -> bool:
        def at_least(value: Any) -> bool:
            return isinstance(value, int) and value >= token
        replies = self.mr.fanout.call(RAISE_FENCE.command((self.keys.fence,), (token,)),
                                      done=self._decided(at_least))
        return self._reached(replies, at_least)

    def _heal(self, item_id: str, payload: bytes, score: int, holder: str, hold_left: float,
              nodes: Iterable[int]) -> None:
        """Put the item and our hold back on `nodes` (best effort: sent, not waited for).

        The caller's outcome is decided already (a quorum holds); healing
        spreads the item for later, and the fan-out delivers it to each node
        before this client's next command there — waiting would only let a
        node that went silent since its last answer hold the call.
        """
        if hold_left <= 0:
            return
        command = HEAL.command(self.keys.per_item(item_id), (item_id, payload, score, holder, _ms(hold_left)))
        targets = list(nodes)
        self.mr.fanout.call({n: command for n in targets}, done=_sent)
        log.debug("queue %s: healing %s on %d node(s)", self.name, item_id, len(targets))

    def _abandon(self, item_id: str, holder: str, *, wait_for: Iterable[int], purge: bool = False) -> None:
        """Delete our hold on every node (and with `purge`, complete the item everywhere).

        Sent to every node, waited for by none: nothing the caller is told
        depends on it (the attempt failed, or the hold is given up), a hold
        left behind is ours alone — it only keeps that node from granting the
        item to others until its ttl runs out (liveness, never safety) — and
        the fan-out runs it on each node before this client's next command
        there. (`wait_for` is kept for the callers' readability: the nodes
        known to have granted.)
        """
        if purge:
            command = COMPLETE.command(self.keys.per_item(item_id), (item_id, holder, _ms(self.retention)))
        else:
            command = ABANDON.command((self.keys.hold(item_id),), (holder,))
        del wait_for
        self.mr.fanout.call(command, done=_sent)

    # -- helpers ----------------------------------------------------------------------------
    def _decided(self, accept: Callable[[Any], bool]) -> Callable[[Replies], bool]:
        def decided(replies: Replies) -> bool:
            agreed = replies.count(accept)
            return self.mr.tally(agreed, len(replies.values) - agreed).decided
        return decided

    def _reached(self, replies: Replies, accept: Callable[[Any], bool]) -> bool:
        agreed = replies.count(accept)
        return self.mr.tally(agreed, len(replies.values) - agreed).reached

    def _for_lack_of_answers(self, replies: Replies, accept: Callable[[Any], bool]) -> bool:
        """Whether a quorum that did not agree failed for lack of answers, not because of refusals.

        An abstention (a node that lost its data, majorityredis.admission) is no answer either."""
        refused = sum(1 for v in replies.ok().values() if not accept(v) and not is_abstain(v))
        return self.mr.n_servers - refused >= self.mr.quorum

    def _no_quorum(self, operation: str, replies: Replies, accept: Callable[[Any], bool],
                   refusal: str = "refused") -> NoQuorum:
        errors: dict[str, object] = {}
        for node in range(len(self.mr.clients)):
            value = replies.values.get(node, "no reply yet when the outcome was decided")
            if isinstance(value, BaseException) or isinstance(value, str):
                errors[self.mr.node_label(node)] = value
            elif not accept(value):
                errors[self.mr.node_label(node)] = f"{refusal} ({value!r})"
        return NoQuorum(operation, quorum=self.mr.quorum, n_servers=self.mr.n_servers,
                        agreed=replies.count(accept), errors=errors)

    def _check_message(self, msg: Message) -> None:
        if not isinstance(msg, Message):
            raise TypeError(f"expected a Message from LockingQueue.get, not {type(msg).__name__}")
        if msg.queue != self.name:
            raise ValueError(f"message {msg.id!r} belongs to queue {msg.queue!r}, not {self.name!r}")


def _payload(item: str | bytes) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    raise TypeError(f"queue items are str or bytes, not {type(item).__name__}")


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _is(expected: int) -> Callable[[Any], bool]:
    return lambda value: value == expected


def _stored(value: Any) -> bool:
    return value in (1, 2)


def _completed(value: Any) -> bool:
    """A CONSUME reply: completed where the hold was ours (1) or where nobody held it (2)."""
    return value in (1, 2)


def _renewed(value: Any) -> bool:
    """An EXTEND reply: renewed where the hold was ours."""
    return value in (1, 2)


def _renewed_or_taken(value: Any) -> bool:
    """An EXTEND reply while the hold is valid: renewed (1, 2), or taken where nobody held it (4, 5)."""
    return value in (1, 2, 4, 5)


def _granted(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and value[0] == 1


def _is_list(value: Any) -> bool:
    return isinstance(value, list)


def _offers_free(value: Any) -> bool:
    return isinstance(value, list) and any(flag == 1 for flag in value[2::3])


def _any_answer(value: Any) -> bool:
    return True


def _sent(_replies: Replies) -> bool:
    """The `done` of a call nobody waits for: it returns once every command is on its way."""
    return True
