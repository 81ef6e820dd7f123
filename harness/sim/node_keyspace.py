"""The keyspace of one simulated Redis node: values, expiry on the node's clock, an undo journal.

Values are stored as plain Python objects whose class is the Redis type:
`bytes` (string), `dict` (hash: field -> value), `ZSet` (sorted set),
`list` (list), `set` (set). Expiry is lazy, as a client sees it in Redis: a
key whose absolute expiry (ms, node clock) is *before* `now` does not exist
(Redis `keyIsExpired`: `now > when`; at `when == now` the key still exists
with PTTL 0). `now` is set once per command by the node and stays frozen for
the whole of a script (Redis 7).

Every mutation goes through this class, so it can keep an undo journal: a
list of exact inverse steps stamped with true (virtual) time. Undoing the
steps younger than `t` in reverse order gives the state the keyspace had at
`t` — how a restart with `appendfsync everysec` loses its last writes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from typing import Any

_KEY, _FIELD, _MEMBER, _ALL = 0, 1, 2, 3  # journal record kinds


class ZSet:
    """A sorted set: member -> score, ordered by (score, member) like Redis."""

    __slots__ = ("_order", "scores")

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self._order: list[tuple[float, bytes]] | None = []

    def __len__(self) -> int:
        return len(self.scores)

    def order(self) -> list[tuple[float, bytes]]:
        """(score, member) pairs in Redis order (rebuilt lazily after a change)."""
        if self._order is None:
            self._order = sorted((s, m) for m, s in self.scores.items())
        return self._order

    def put(self, member: bytes, score: float) -> None:
        self.scores[member] = score
        self._order = None

    def remove(self, member: bytes) -> None:
        del self.scores[member]
        self._order = None

    def rank_range_by_score(self, low: float, low_open: bool, high: float,
                            high_open: bool) -> tuple[int, int]:
        """[start, end) ranks of the members whose score lies in the range."""
        order = self.order()
        keys = [s for s, _ in order]
        start = bisect_right(keys, low) if low_open else bisect_left(keys, low)
        end = bisect_left(keys, high) if high_open else bisect_right(keys, high)
        return start, max(start, end)

    def copy(self) -> ZSet:
        made = ZSet()
        made.scores = dict(self.scores)
        made._order = None
        return made


class Keyspace:
    """Keys, values and expiry of db 0, with an optional undo journal (see module doc)."""

    def __init__(self, journal: bool) -> None:
        self.values: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        self.now = 0  # node clock, ms; set by the node once per command
        self.stamp = 0.0  # true time of the current command, s (journal only)
        self._journal: deque[tuple[Any, ...]] | None = deque() if journal else None

    # -- reading -----------------------------------------------------------------------------
    def lookup(self, key: bytes) -> Any:
        """The live value at `key`, or None (an expired key is deleted on the way, like Redis)."""
        value = self.values.get(key)
        if value is not None and key in self.expires and self.expires[key] < self.now:
            self.delete(key)
            return None
        return value

    def live_items(self) -> list[tuple[bytes, Any, int | None]]:
        """(key, value, absolute expiry or None) of every live key, without deleting expired ones."""
        now = self.now
        out = []
        for key, value in self.values.items():
            when = self.expires.get(key)
            if when is None or when >= now:
                out.append((key, value, when))
        return out

    # -- mutations (each one journaled) -----------------------------------------------------
    def _record(self, *step: Any) -> None:
        self._journal.append((self.stamp, *step))  # type: ignore[union-attr]

    def store(self, key: bytes, value: Any, expire: int | None) -> None:
        """Set `key` to `value` with absolute expiry `expire` (None: persistent)."""
        if self._journal is not None:
            self._record(_KEY, key, self.values.get(key), self.expires.get(key))
        self.values[key] = value
        if expire is None:
            self.expires.pop(key, None)
        else:
            self.expires[key] = expire

    def set_expire(self, key: bytes, expire: int | None) -> None:
        """Change the expiry of an existing key (None: persist)."""
        self.store(key, self.values[key], expire)

    def delete(self, key: bytes) -> bool:
        if key not in self.values:
            return False
        if self._journal is not None:
            self._record(_KEY, key, self.values[key], self.expires.get(key))
        del self.values[key]
        self.expires.pop(key, None)
        return True

    def hash_set(self, key: bytes, hash_: dict[bytes, bytes], field: bytes, value: bytes) -> None:
        if self._journal is not None:
            self._record(_FIELD, key, field, hash_.get(field))
        hash_[field] = value

    def hash_delete(self, key: bytes, hash_: dict[bytes, bytes], field: bytes) -> None:
        """Delete a field (it must exist); the key goes when the hash becomes empty."""
        if self._journal is not None:
            self._record(_FIELD, key, field, hash_[field])
        del hash_[field]
        if not hash_:
            self.delete(key)

    def zset_put(self, key: bytes, zset: ZSet, member: bytes, score: float) -> None:
        if self._journal is not None:
            self._record(_MEMBER, key, member, zset.scores.get(member))
        zset.put(member, score)

    def zset_remove(self, key: bytes, zset: ZSet, member: bytes) -> None:
        """Remove a member (it must exist); the key goes when the set becomes empty."""
        if self._journal is not None:
            self._record(_MEMBER, key, member, zset.scores[member])
        zset.remove(member)
        if not zset:
            self.delete(key)

    def replace_container(self, key: bytes, value: Any) -> None:
        """Record a whole-value snapshot before an in-place change of a list or set (rare types)."""
        if self._journal is not None:
            old = self.values.get(key)
            self._record(_KEY, key, None if old is None else old.copy(), self.expires.get(key))

    def flush(self) -> None:
        if self._journal is not None:
            self._record(_ALL, self.values, self.expires)
        self.values, self.expires = {}, {}

    # -- journal -----------------------------------------------------------------------------
    def trim(self, oldest: float) -> None:
        """Forget journal steps stamped before `oldest` (they can no longer be undone)."""
        journal = self._journal
        if journal is not None:
            while journal and journal[0][0] < oldest:
                journal.popleft()

    @property
    def journaled(self) -> bool:
        return self._journal is not None

    def undo_after(self, cutoff: float) -> int:
        """Undo every mutation stamped after `cutoff` (newest first); returns how many."""
        journal = self._journal
        assert journal is not None
        undone = 0
        while journal and journal[-1][0] > cutoff:
            step = journal.pop()
            self._apply_inverse(step)
            undone += 1
        return undone

    def _apply_inverse(self, step: tuple[Any, ...]) -> None:
        kind = step[1]
        if kind == _KEY:
            _, _, key, value, expire = step
            if value is None:
                self.values.pop(key, None)
                self.expires.pop(key, None)
            else:
                self.values[key] = value
                if expire is None:
                    self.expires.pop(key, None)
                else:
                    self.expires[key] = expire
        elif kind == _FIELD:
            _, _, key, field, old = step
            hash_ = self.values[key]
            if old is None:
                del hash_[field]
            else:
                hash_[field] = old
        elif kind == _MEMBER:
            _, _, key, member, old = step
            zset = self.values[key]
            if old is None:
                zset.remove(member)
            else:
                zset.put(member, old)
        else:
            _, _, values, expires = step
            self.values, self.expires = values, expires

    def clear(self) -> None:
        """Lose everything, journal included (a restart with no persistence)."""
        self.values, self.expires = {}, {}
        if self._journal is not None:
            self._journal.clear()
