"""Which nodes have gone silent: waited for and answering nothing for longer than the timeout.

A call waits beyond a quorum only where the answer is a claim about every
node (an empty queue, a queue's size, a lock token no quorum of known
counters agrees on, a grant without the payload). Waiting there for a node
that has answered nothing for longer than the timeout buys nothing: the call
would reach its deadline without it and take the same decision — so such
calls, once a quorum answered, wait for the nodes that are not silent; a
silent node's answer still counts when it arrives first.

`Silence` learns from every fan-out call's replies (`MajorityRedis.fanout`
reports them): a node that answered anything — a value or an error other
than a timeout — is heard; one the call waited for until its deadline, or
whose socket timed out, missed that call. (A node a call returned without
because the outcome was already decided tells nothing.) A node is *silent*
when it first missed a call more than `timeout` ago and answered nothing
since — and its last miss is less than `REPROBE_TIMEOUTS` timeouts old: so
once in that many timeouts one call waits for it again, and a node that came
back but is always the slowest to answer is heard again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import redis

if TYPE_CHECKING:
    from majorityredis.fanout import Command, Replies
    from majorityredis.runtime import FanoutLike

REPROBE_TIMEOUTS = 10  # a silent node is waited for again after this many timeouts without a probe


def is_silence(reply: Any) -> bool:
    """A reply that says the node did not answer in time (not that it answered with an error)."""
    return isinstance(reply, (TimeoutError, redis.exceptions.TimeoutError))


class Silence:
    """Per node: since when it has answered nothing (see the module docstring). Thread-safe enough:
    each update is one list store, and a stale read only makes a call wait a little longer or less."""

    def __init__(self, n_nodes: int, clock: Callable[[], float], timeout: float) -> None:
        self._clock = clock
        self._timeout = timeout
        self._first_missed: list[float | None] = [None] * n_nodes
        self._last_missed: list[float] = [0.0] * n_nodes

    @property
    def n_nodes(self) -> int:
        return len(self._first_missed)

    def note(self, replies: Mapping[int, Any], started: float) -> None:
        """Learn from the replies of one call that began at `started` (clock)."""
        for node, reply in replies.items():
            if not is_silence(reply):
                self._first_missed[node] = None
                continue
            if self._first_missed[node] is None:
                self._first_missed[node] = started
            self._last_missed[node] = self._clock()

    def silent(self) -> frozenset[int]:
        """Nodes that first missed a call more than `timeout` ago, answered nothing since, and
        missed one less than REPROBE_TIMEOUTS timeouts ago."""
        now = self._clock()
        return frozenset(node for node, since in enumerate(self._first_missed)
                         if since is not None and since < now - self._timeout
                         and self._last_missed[node] > now - REPROBE_TIMEOUTS * self._timeout)

    def awaited_all(self, answered: Iterable[int], quorum: int) -> bool:
        """Whether a quorum answered and so did every node that is not silent.

        (A quorum first: a call never ends without reading anything, so nodes that were all
        silent are heard again the moment they answer.)
        """
        answered = set(answered)
        if len(answered) < quorum:
            return False
        silent = self.silent()
        return all(node in answered or node in silent for node in range(self.n_nodes))


class NotingFanout:
    """The runtime's fan-out, telling `Silence` what each call heard; everything else passes through."""

    def __init__(self, inner: FanoutLike, silence: Silence, clock: Callable[[], float]) -> None:
        self._inner = inner
        self._silence = silence
        self._clock = clock

    def call(self, commands: Command | Mapping[int, Command], *, done: Callable[[Replies], bool] | None = None,
             timeout: float | None = None, n_servers: int | None = None) -> Replies:
        started = self._clock()
        replies = self._inner.call(commands, done=done, timeout=timeout, n_servers=n_servers)
        self._silence.note(replies.values, started)
        return replies

    def close(self) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:  # the inner fan-out's own attributes (tests inspect them)
        return getattr(self._inner, name)
