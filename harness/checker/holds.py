"""Certain holds: the time a client certainly held a lock (or a queue item).

A hold starts when the grant completed (`acquire`/`get` ok) and lasts, as far
as the client can be sure, until the earliest of the release it invoked and
the end of the validity it was granted. An `extend` that completes `ok` while
the hold is still certain prolongs it to its own ok time + validity (validity
is measured just before recording, so this is conservative). Times are ns;
validity is in ms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import BadInput
from harness.history.events import Op

NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class Hold:
    """One certain hold of `key` (a lock name, or a queue item) by `process` with `token`."""

    key: Any
    process: int | str
    token: Any
    start: int
    end: float
    grant: Op
    ended_by: str  # "release" | "validity"

    @property
    def index(self) -> int:
        """The grant's completion index (the event that made the hold certain)."""
        assert self.grant.complete is not None
        return self.grant.complete.index

    def overlaps(self, other: "Hold") -> bool:
        return self.start < other.end and other.start < self.end

    def to_json(self) -> dict[str, Any]:
        return {"process": self.process, "token": self.token, "start": self.start,
                "end": self.end, "ended_by": self.ended_by,
                "grant_indices": list(self.grant.indices)}


def field_of(op: Op, value: Any, name: str, kinds: tuple[type, ...] = (int,)) -> Any:
    """`value[name]`, checked; a history that lacks it is bad input naming the index and field."""
    if not isinstance(value, Mapping) or name not in value:
        raise BadInput(None, f"{op.f} {op.type} at index {op.index} needs a value with {name!r}, "
                             f"got {value!r}", field=f"value.{name}")
    found = value[name]
    if isinstance(found, bool) or not isinstance(found, kinds):
        raise BadInput(None, f"{op.f} at index {op.index}: {name} must be "
                             f"{' or '.join(k.__name__ for k in kinds)}, got {found!r}", field=f"value.{name}")
    return found


def certain_end(granted_at: int, validity_ms: float, extensions: Iterable[tuple[int, float]],
                released_at: int | None) -> tuple[float, str]:
    """The end of a certain hold and what ended it ("release" or "validity").

    `extensions` are (ok time, validity_ms) of successful extends of this hold.
    """
    end = granted_at + validity_ms * NS_PER_MS
    for ok_time, validity in sorted(extensions):
        if ok_time <= end:
            end = max(end, ok_time + validity * NS_PER_MS)
    if released_at is not None and released_at < end:
        return released_at, "release"
    return end, "validity"


def overlapping_pairs(holds: list[Hold]) -> list[tuple[Hold, Hold]]:
    """Every pair of overlapping holds (sweep over start times; O(n log n + pairs))."""
    pairs: list[tuple[Hold, Hold]] = []
    active: list[Hold] = []
    for hold in sorted(holds, key=lambda h: (h.start, h.end)):
        active = [a for a in active if a.end > hold.start]
        pairs.extend((a, hold) for a in active)
        active.append(hold)
    return pairs
