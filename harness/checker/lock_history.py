"""Reading the lock workload's ops: acquisitions and their certain holds (see holds.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.checker.holds import Hold, certain_end, field_of
from harness.history.events import Event, Op, pair_operations


def ops_by_lock(events: Sequence[Event]) -> dict[Any, list[Op]]:
    """Client ops grouped by lock name (`key`), in invocation order."""
    locks: dict[Any, list[Op]] = {}
    for op in pair_operations(events):
        locks.setdefault(op.key, []).append(op)
    return locks


def acquisitions(ops: list[Op]) -> list[Op]:
    """The certain acquisitions (`acquire` ok) of one lock."""
    return [op for op in ops if op.f == "acquire" and op.type == "ok"]


def holds_of(lock: Any, ops: list[Op]) -> list[Hold]:
    """The certain holds of one lock; empty ones (no validity left) are left out."""
    extensions: dict[tuple[Any, Any], list[tuple[int, float]]] = {}
    releases: dict[tuple[Any, Any], list[int]] = {}
    for op in ops:
        if op.f == "extend" and op.type == "ok":
            token = field_of(op, op.result if isinstance(op.result, dict) and "token" in op.result
                             else op.value, "token")
            validity = field_of(op, op.result, "validity_ms", (int, float))
            assert op.complete is not None
            extensions.setdefault((op.process, token), []).append((op.complete.time, validity))
        elif op.f == "release":
            token = op.value.get("token") if isinstance(op.value, dict) else None
            releases.setdefault((op.process, token), []).append(op.start)
    holds: list[Hold] = []
    for op in acquisitions(ops):
        token = field_of(op, op.result, "token")
        validity = field_of(op, op.result, "validity_ms", (int, float))
        assert op.complete is not None
        granted = op.complete.time
        released = [t for t in releases.get((op.process, token), []) + releases.get((op.process, None), [])
                    if t >= op.start]
        end, ended_by = certain_end(granted, validity, extensions.get((op.process, token), []),
                                    min(released) if released else None)
        if end > granted:
            holds.append(Hold(lock, op.process, token, granted, end, op, ended_by))
    return holds
