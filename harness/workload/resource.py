"""The protected resource of the lock workload: what a lock holder works on.

Models Kleppmann's storage service: a holder calls `begin(token)`, works for a while,
then `commit(token)`. An *unfenced* resource accepts everything, so a holder whose
lease ran out (a GC pause) works at the same time as the next holder — the resource
checker sees two `ok` uses overlap. A *fenced* resource remembers the highest token
it has seen and rejects a token lower than it, at `begin` and again at `commit` (a
newer holder that began meanwhile invalidates the older one's work).

`use()` records the history events of one use *inside* the resource's lock (invoke
just before `begin`, ok/fail at `commit`), so the order of the history is the order in
which the resource really saw the uses: a use recorded `ok` ended, in the history, before
any later use was invoked — no false overlap from the gap between the resource's
decision and the recorder's clock.

Thread-safe; one instance is shared by every client of a run (it stands for a
service outside the Redis cluster, so faults never touch it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class StaleToken(Exception):
    """The fenced resource refused `token` because it has seen `highest`."""

    def __init__(self, token: int, highest: int) -> None:
        self.token = token
        self.highest = highest
        super().__init__(f"token {token} is stale: the resource has seen token {highest}")


class ProtectedResource:
    """A named resource, fenced by token or not (see module doc)."""

    def __init__(self, name: str = "resource", *, fenced: bool = False,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = name
        self.fenced = fenced
        self._sleep = sleep
        self._lock = threading.Lock()
        self._highest: int | None = None
        self._active: dict[int, int] = {}
        self.accepted = 0
        self.rejected = 0
        self.max_concurrent = 0  # most uses in progress at once (overlaps the resource saw)

    @property
    def highest(self) -> int | None:
        return self._highest

    def begin(self, token: int, *, before: Callable[[], None] | None = None) -> None:
        """Start work under `token` (calling `before()` first, under the lock);
        raises StaleToken when fenced and token < highest."""
        with self._lock:
            if before is not None:
                before()
            self._check(token)
            self._highest = token if self._highest is None else max(self._highest, token)
            self._active[token] = self._active.get(token, 0) + 1
            self.max_concurrent = max(self.max_concurrent, sum(self._active.values()))

    def commit(self, token: int, *, after: Callable[[], None] | None = None) -> None:
        """Finish work under `token` (calling `after()` on success, under the lock);
        raises StaleToken when fenced and a newer token began meanwhile."""
        with self._lock:
            self._leave(token)
            self._check(token)
            self.accepted += 1
            if after is not None:
                after()

    def use(self, token: int, seconds: float, *, on_invoke: Callable[[], None],
            on_ok: Callable[[], None], on_reject: Callable[[int], None],
            sleep: Callable[[float], None] | None = None) -> bool:
        """begin, work `seconds` (with `sleep`: the caller's runtime, default the resource's), commit;
        the callbacks record the op under the lock.
        Returns True when the work was accepted (on_ok called), else False (on_reject(highest))."""
        try:
            self.begin(token, before=on_invoke)
        except StaleToken as stale:
            with self._lock:
                on_reject(stale.highest)
            return False
        (sleep or self._sleep)(seconds)
        try:
            self.commit(token, after=on_ok)
        except StaleToken as stale:
            with self._lock:
                on_reject(stale.highest)
            return False
        return True

    def _leave(self, token: int) -> None:
        left = self._active.get(token, 0) - 1
        if left > 0:
            self._active[token] = left
        else:
            self._active.pop(token, None)

    def _check(self, token: int) -> None:
        if self.fenced and self._highest is not None and token < self._highest:
            self.rejected += 1
            raise StaleToken(token, self._highest)
