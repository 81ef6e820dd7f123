"""Which nodes have gone silent: asked something and answered nothing for longer than the timeout.

A call waits beyond a quorum only where the answer is a claim about every
node (an empty queue, a queue's size, a lock token no quorum agrees on).
Waiting there for a node that has answered nothing for longer than the
timeout buys nothing: the call would reach its deadline without it and take
the same decision — so such calls wait for the nodes that are not silent,
and a silent node's late answer still counts when it arrives in time.

`Silence` learns from every fan-out call's replies (`MajorityRedis.fanout`
reports them): a node that answered anything — a value or an error other
than a timeout — is heard; one that the call returned without, or whose
socket timed out, has missed that call. A node is *silent* when it missed a
call that started more than `timeout` seconds ago and has answered nothing
since. It stops being silent with its first answer, which a call reads when
it arrives before the call's outcome is decided (the fan-out drops replies
that come later).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis


def is_silence(reply: Any) -> bool:
    """A reply that says the node did not answer in time (not that it answered with an error)."""
    return isinstance(reply, (TimeoutError, redis.exceptions.TimeoutError))


class Silence:
    """Per node: since when it has answered nothing (see the module docstring). Thread-safe enough:
    each update is one list store, and a stale read only makes a call wait a little longer or less."""

    def __init__(self, n_nodes: int, clock: Callable[[], float], timeout: float) -> None:
        self._clock = clock
        self._timeout = timeout
        self._missed_since: list[float | None] = [None] * n_nodes

    @property
    def n_nodes(self) -> int:
        return len(self._missed_since)

    def note(self, asked: Iterable[int], replies: Mapping[int, Any], started: float) -> None:
        """Learn from one call that began at `started` (clock) and asked `asked`."""
        missed = self._missed_since
        for node in asked:
            if node in replies and not is_silence(replies[node]):
                missed[node] = None
            elif missed[node] is None:
                missed[node] = started

    def silent(self) -> frozenset[int]:
        """The nodes that missed a call begun more than `timeout` ago and answered nothing since."""
        horizon = self._clock() - self._timeout
        return frozenset(node for node, since in enumerate(self._missed_since)
                         if since is not None and since < horizon)

    def awaited_all(self, answered: Iterable[int]) -> bool:
        """Whether every node that is not silent is among `answered`."""
        silent = self.silent()
        answered = set(answered)
        return all(node in answered or node in silent for node in range(self.n_nodes))


class NotingFanout:
    """The runtime's fan-out, telling `Silence` what each call heard; everything else passes through."""

    def __init__(self, inner: Any, silence: Silence, clock: Callable[[], float]) -> None:
        self._inner = inner
        self._silence = silence
        self._clock = clock

    def call(self, commands: Any, **kwargs: Any) -> Any:
        started = self._clock()
        replies = self._inner.call(commands, **kwargs)
        asked = commands.keys() if isinstance(commands, Mapping) else range(self._silence.n_nodes)
        self._silence.note(asked, replies.values, started)
        return replies

    def close(self) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:  # the inner fan-out's own attributes (tests inspect them)
        return getattr(self._inner, name)
