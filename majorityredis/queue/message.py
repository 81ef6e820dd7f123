"""`Message`: an item a consumer holds, as returned by `LockingQueue.get`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


class Lease:
    """The mutable part of a hold: until when it is safe to use, and whether it was given up.

    Owned by the queue that handed out the Message (extend moves `deadline`,
    consume/release/a lost extend end it); read by `Message.validity()`.
    """

    __slots__ = ("deadline", "ttl", "ended", "clock")

    def __init__(self, deadline: float, ttl: float, clock: Callable[[], float]) -> None:
        self.deadline = deadline
        self.ttl = ttl
        self.ended = False
        self.clock = clock

    def end(self) -> None:
        self.ended = True
        self.deadline = float("-inf")


@dataclass(frozen=True, slots=True)
class Message:
    """An item held by this consumer on a majority of nodes.

    `id` is the item's id (sortable by put time), `item` its payload, `token`
    a fencing token: strictly greater than the token of every hold of this
    queue that was handed out before this one was asked for (so a resource can
    refuse work from a consumer whose hold lapsed), `priority` as put, `queue`
    the queue's name. The hold itself is identified
    by a random value only this consumer knows (`_holder`), so nobody else can
    extend, consume or release it.
    """

    id: str
    item: bytes
    token: int
    priority: int
    queue: str
    _holder: str = field(repr=False)
    _lease: Lease = field(repr=False, compare=False)

    @property
    def ttl(self) -> float:
        """The hold's time to live in seconds, as last asked for (get or extend_lock)."""
        return self._lease.ttl

    @property
    def deadline(self) -> float:
        """Until when (on the queue's monotonic clock) the hold is safe; -inf once given up."""
        return self._lease.deadline

    def validity(self) -> float:
        """Seconds the hold is still safe to rely on; 0.0 once expired, consumed, released or lost."""
        if self._lease.ended:
            return 0.0
        return max(0.0, self._lease.deadline - self._lease.clock())

    @property
    def held(self) -> bool:
        """Whether this consumer still holds the item as far as it knows (validity() > 0)."""
        return self.validity() > 0.0
