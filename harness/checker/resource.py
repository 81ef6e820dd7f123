"""Use of the fenced resource: what the protected resource accepted must be exclusive and fresh.

`use` ops (invoke {"token", "resource"}; ok {"token"} = accepted) span the work
at the resource. Anomalies, per lock and resource:
- "concurrent-use": two accepted uses by different holds (token or process
  differs) overlapping in time;
- "stale-token-accepted": an accepted use whose token is lower than the token
  of an accepted use that completed before it was invoked.
Rejected (`fail`) uses are the fence working; unknown (`info`) ones prove nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx

from harness.checker.holds import field_of
from harness.checker.lock_history import ops_by_lock
from harness.checker.verdict import Anomaly, Verdict, verdict_from
from harness.history.events import Event, Op

MAX_REPORTED = 1000


def check_resource(events: Sequence[Event]) -> Verdict:
    """Accepted uses must not overlap across holds and must never go back to an older token."""
    anomalies: list[Anomaly] = []
    stats: dict[str, Any] = {"resources": 0, "accepted_uses": 0, "rejected_uses": 0,
                             "concurrent_uses": 0, "stale_accepted": 0}
    for lock, ops in ops_by_lock(events).items():
        resources: dict[Any, list[tuple[Op, int]]] = {}
        for op in ops:
            if op.f != "use":
                continue
            if op.type == "fail":
                stats["rejected_uses"] += 1
            if op.type != "ok":
                continue
            resource = op.value.get("resource") if isinstance(op.value, dict) else None
            token = field_of(op, op.value, "token")
            resources.setdefault(resource, []).append((op, token))
        for resource, uses in resources.items():
            stats["resources"] += 1
            stats["accepted_uses"] += len(uses)
            overlaps = _overlap_graph(uses)
            stats["concurrent_uses"] += overlaps.number_of_edges()
            for i, j in overlaps.edges:
                if len(anomalies) < MAX_REPORTED:
                    anomalies.append(_concurrent(lock, resource, uses[min(i, j)], uses[max(i, j)]))
            for earlier, later in _stale(uses):
                stats["stale_accepted"] += 1
                if len(anomalies) < MAX_REPORTED:
                    anomalies.append(_stale_anomaly(lock, resource, uses[earlier], uses[later]))
    return verdict_from("resource", anomalies, stats=stats)


def _overlap_graph(uses: list[tuple[Op, int]]) -> nx.Graph:
    """Edges between overlapping accepted uses of different holds (sweep over start times)."""
    graph = nx.Graph()
    active: list[int] = []
    for i in sorted(range(len(uses)), key=lambda k: uses[k][0].start):
        op, token = uses[i]
        active = [a for a in active if uses[a][0].complete.time > op.start]  # type: ignore[union-attr]
        for a in active:
            other, other_token = uses[a]
            if other_token != token or other.process != op.process:
                graph.add_edge(a, i)
        active.append(i)
    return graph


def _stale(uses: list[tuple[Op, int]]) -> list[tuple[int, int]]:
    """(earlier, later) where `later` was accepted with a token lower than `earlier`'s,
    which had completed before `later` was invoked; one witness (the highest token) per later use."""
    by_completion = sorted(range(len(uses)), key=lambda k: uses[k][0].complete.time)  # type: ignore[union-attr]
    found: list[tuple[int, int]] = []
    best: int | None = None
    k = 0
    for later in sorted(range(len(uses)), key=lambda k: uses[k][0].start):
        start = uses[later][0].start
        while k < len(by_completion) and uses[by_completion[k]][0].complete.time < start:  # type: ignore[union-attr]
            if best is None or uses[by_completion[k]][1] > uses[best][1]:
                best = by_completion[k]
            k += 1
        if best is not None and uses[best][1] > uses[later][1]:
            found.append((best, later))
    return found


def _concurrent(lock: Any, resource: Any, a: tuple[Op, int], b: tuple[Op, int]) -> Anomaly:
    (first, first_token), (second, second_token) = sorted((a, b), key=lambda u: u[0].start)
    return Anomaly(
        kind="concurrent-use",
        message=(f"resource {resource!r} of lock {lock!r} accepted work from process {first.process!r} "
                 f"(token {first_token}, t={first.start}..{first.end}) and process {second.process!r} "
                 f"(token {second_token}, t={second.start}..{second.end}) at the same time"),
        indices=tuple(sorted(first.indices + second.indices)),
        details={"key": lock, "resource": resource,
                 "uses": [_use_json(first, first_token), _use_json(second, second_token)]},
    )


def _stale_anomaly(lock: Any, resource: Any, earlier: tuple[Op, int], later: tuple[Op, int]) -> Anomaly:
    (old, old_token), (new, new_token) = earlier, later
    return Anomaly(
        kind="stale-token-accepted",
        message=(f"resource {resource!r} of lock {lock!r} accepted token {new_token} from process "
                 f"{new.process!r} (index {new.index}, invoked t={new.start}) after it had accepted the "
                 f"higher token {old_token} (index {old.index}, completed t={old.end})"),
        indices=tuple(sorted(old.indices + new.indices)),
        details={"key": lock, "resource": resource,
                 "uses": [_use_json(old, old_token), _use_json(new, new_token)]},
    )


def _use_json(op: Op, token: int) -> dict[str, Any]:
    return {"index": op.index, "process": op.process, "token": token, "start": op.start, "end": op.end}
