"""Pure parts of the LockingQueue: key layout, item ids, candidate order, reading node replies.

Nothing here talks to Redis, so unit tests drive it directly.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from majorityredis.admission import is_abstain

KEY_PREFIX = "mr:q:"
MAX_PRIORITY = 2 ** 53  # scores are doubles: integers beyond this lose their exact order


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """Redis keys of one queue (the same on every node)."""

    name: str

    @property
    def prefix(self) -> str:
        return f"{KEY_PREFIX}{self.name}:"

    @property
    def items(self) -> str:
        return self.prefix + "items"

    @property
    def order(self) -> str:
        return self.prefix + "order"

    @property
    def fence(self) -> str:
        return self.prefix + "fence"

    def hold(self, item_id: str) -> str:
        return f"{self.prefix}hold:{item_id}"

    def done(self, item_id: str) -> str:
        return f"{self.prefix}done:{item_id}"

    def per_item(self, item_id: str) -> tuple[str, str, str, str]:
        """(items, order, hold, done): the KEYS of the scripts that work on one item."""
        return self.items, self.order, self.hold(item_id), self.done(item_id)


class ItemIds:
    """Item ids that sort by put time: 16 digits of wall-clock microseconds, '-', 12 hex digits.

    Ids from one instance strictly increase even when the wall clock stalls
    or steps back (the microsecond part is bumped), so one producer's items
    are delivered in put order. Across producers the order is that of their
    wall clocks (approximately FIFO; equal priorities only). The random
    suffix keeps ids of different producers distinct.
    """

    def __init__(self, wall_clock: Callable[[], float] = time.time,
                 token_hex: Callable[[int], str] = secrets.token_hex) -> None:
        self._wall_clock = wall_clock
        self._token_hex = token_hex
        self._last_us = -1
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            now_us = max(round(self._wall_clock() * 1_000_000), self._last_us + 1)
            self._last_us = now_us
        return f"{now_us:016d}-{self._token_hex(6)}"


def score_of(priority: int) -> int:
    """Zset score of a priority: higher priority = lower score = earlier in ZRANGE."""
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ValueError(f"priority must be an int, not {priority!r}")
    if abs(priority) > MAX_PRIORITY:
        raise ValueError(f"priority must be within ±2**53 (an exact Redis score), not {priority}")
    return -priority


def priority_of(score: bytes | str | float) -> int:
    return -int(float(score))


@dataclass(frozen=True, slots=True, order=True)
class Candidate:
    """An item some node offered in a scan; sorts in delivery order (priority desc, then id = age)."""

    score: int
    id: str

    @property
    def priority(self) -> int:
        return -self.score


@dataclass(frozen=True, slots=True)
class Offer:
    """One entry of a node's scan: the item, and whether nobody holds it on that node."""

    candidate: Candidate
    free: bool


def parse_scan(reply: Any) -> list[Offer]:
    """Read one node's SCAN_AVAILABLE reply ({id, score, free, id, score, free, ...})."""
    if not isinstance(reply, list) or len(reply) % 3:
        raise ValueError(f"unexpected scan reply {reply!r}")
    out = []
    for i in range(0, len(reply), 3):
        raw_id = reply[i]
        item_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        out.append(Offer(Candidate(int(float(reply[i + 1])), item_id), int(reply[i + 2]) == 1))
    return out


def merge_candidates(per_node: Iterable[list[Offer]]) -> list[Candidate]:
    """The items some node offered as free, each once, in the order to try them.

    Delivery order (priority desc, then age) — except that items another
    node reported as held go last: they are most likely held by a consumer
    whose hold missed the offering node, so trying them first would only
    cost a round trip and reorder the rest.
    """
    free: dict[str, Candidate] = {}
    held: set[str] = set()
    for offers in per_node:
        for offer in offers:
            if offer.free:
                free.setdefault(offer.candidate.id, offer.candidate)
            else:
                held.add(offer.candidate.id)
    return sorted(free.values(), key=lambda c: (c.id in held, c))


TOO_BIG = -2  # GRANT's status for an item larger than the caller's max_item_size


@dataclass(frozen=True, slots=True)
class Grant:
    """One node's answer to GRANT: `status` 1 granted, 0 held by another, -1 completed,
    TOO_BIG: not granted, the payload (`size` bytes) is larger than the caller can fetch;
    ABSTAINED: the node is not admitted (lost its data): neither grant nor refusal."""

    status: int
    fence: int = 0
    payload: bytes | None = None
    size: int = 0

    @property
    def granted(self) -> bool:
        return self.status == 1


ABSTAINED = -3  # not a script status: the node answered 'ABSTAIN' (majorityredis.admission)


def parse_grant(reply: Any) -> Grant:
    if is_abstain(reply):
        return Grant(ABSTAINED)
    if not isinstance(reply, list) or not reply:
        raise ValueError(f"unexpected grant reply {reply!r}")
    status = int(reply[0])
    if status == TOO_BIG:
        return Grant(status, size=int(reply[1]))
    if status != 1:
        return Grant(status)
    payload = reply[2] if len(reply) > 2 else None
    return Grant(1, int(reply[1]), payload)


def fencing_token(fences: Mapping[int, int], quorum: int) -> tuple[int, bool]:
    """The token of a hold granted by the nodes in `fences` (node -> its counter after INCR).

    Returns (token, needs_write_back). The token is the highest counter; it is
    safe as it is only when at least a quorum of nodes already holds it — any
    later grant quorum then meets one of them and INCRs past it. Otherwise it
    must be written back to a quorum before the hold is handed out.
    """
    if not fences:
        raise ValueError("no node granted the hold")
    token = max(fences.values())
    at_token = sum(1 for fence in fences.values() if fence == token)
    return token, at_token < quorum
