"""Mutual exclusion of lock histories as a graph of certain holds.

Nodes are the certain holds of each lock (holds.py); an edge joins two holds
of the same lock by different processes that overlap in time. Every edge is a
violation, reported with both holds. The largest clique is the largest set of
simultaneous holders (holds are intervals, so pairwise overlap means a common
instant).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx

from harness.checker.holds import Hold, overlapping_pairs
from harness.checker.lock_history import holds_of, ops_by_lock
from harness.checker.verdict import Anomaly, Verdict, verdict_from
from harness.history.events import Event

MAX_REPORTED = 1000  # anomalies listed; stats["violations"] counts them all


def check_mutex_graph(events: Sequence[Event]) -> Verdict:
    """Overlapping certain holds of a lock by different processes -> "overlapping-holds"."""
    anomalies: list[Anomaly] = []
    stats: dict[str, Any] = {"locks": 0, "holds": 0, "violations": 0, "max_simultaneous_holders": 0}
    largest: dict[str, Any] | None = None
    for lock, ops in ops_by_lock(events).items():
        holds = holds_of(lock, ops)
        stats["locks"] += 1
        stats["holds"] += len(holds)
        graph = nx.Graph()
        graph.add_nodes_from(range(len(holds)))
        position = {id(h): i for i, h in enumerate(holds)}
        for a, b in overlapping_pairs(holds):
            if a.process != b.process:
                graph.add_edge(position[id(a)], position[id(b)])
        for i, j in graph.edges:
            stats["violations"] += 1
            if len(anomalies) < MAX_REPORTED:
                anomalies.append(_violation(lock, holds[i], holds[j]))
        if holds:
            clique = max(nx.find_cliques(graph), key=len)
            if len(clique) > stats["max_simultaneous_holders"]:
                stats["max_simultaneous_holders"] = len(clique)
                members = sorted((holds[i] for i in clique), key=lambda h: h.start)
                largest = {"key": lock, "size": len(clique), "holds": [h.to_json() for h in members],
                           "indices": [h.index for h in members]}
    if largest is not None:
        stats["largest_clique"] = largest
    return verdict_from("mutex-graph", anomalies, stats=stats)


def _violation(lock: Any, a: Hold, b: Hold) -> Anomaly:
    first, second = sorted((a, b), key=lambda h: h.start)
    overlap = (max(a.start, b.start), min(a.end, b.end))
    return Anomaly(
        kind="overlapping-holds",
        message=(f"lock {lock!r} held by process {first.process!r} (token {first.token}, "
                 f"t={first.start}..{_t(first.end)}, until {first.ended_by}) and by process "
                 f"{second.process!r} (token {second.token}, t={second.start}..{_t(second.end)}) "
                 f"at the same time: t={overlap[0]}..{_t(overlap[1])}"),
        indices=tuple(sorted((first.index, second.index))),
        details={"key": lock, "holds": [first.to_json(), second.to_json()],
                 "overlap": [overlap[0], overlap[1]]},
    )


def _t(time: float) -> str:
    return str(int(time)) if time == int(time) else str(time)
