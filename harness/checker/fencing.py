"""Fencing tokens must grow with real time.

Per lock, a directed graph over the certain acquisitions (`acquire` ok) has a
real-time edge A -> B when A completed before B was invoked, and a token edge
A -> B when token(A) < token(B). A cycle means some acquisition got a token not
greater than one granted before it started: the fenced resource would accept a
stale holder. Two acquisitions with the same token are reported too
("duplicate-token"): no resource can tell them apart.

To keep the graph linear in size, both orders go through chains of auxiliary
nodes (reachability = the order), so a path A ~> B through real-time nodes
means A completed before B was invoked, and through token nodes that token(A)
< token(B); cycles are found with networkx and shown as acquisitions only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx

from harness.checker.holds import field_of
from harness.checker.lock_history import acquisitions, ops_by_lock
from harness.checker.verdict import Anomaly, Verdict, verdict_from
from harness.history.events import Event, Op

MAX_PAIRS_SHOWN = 20


def check_fencing(events: Sequence[Event]) -> Verdict:
    """Acquisitions ordered in real time must have increasing tokens."""
    anomalies: list[Anomaly] = []
    stats: dict[str, Any] = {"locks": 0, "acquisitions": 0, "cycles": 0}
    for lock, ops in ops_by_lock(events).items():
        granted = acquisitions(ops)
        stats["locks"] += 1
        stats["acquisitions"] += len(granted)
        tokens = [field_of(op, op.result, "token") for op in granted]
        anomalies.extend(_duplicates(lock, granted, tokens))
        graph = _precedence_graph(granted, tokens)
        for component in nx.strongly_connected_components(graph):
            members = [node[1] for node in component if node[0] == "acq"]
            if len(members) < 2:
                continue
            stats["cycles"] += 1
            anomalies.append(_cycle_anomaly(lock, graph.subgraph(component), members, granted, tokens))
    return verdict_from("fencing", anomalies, stats=stats)


def _precedence_graph(granted: list[Op], tokens: list[int]) -> nx.DiGraph:
    graph = nx.DiGraph()
    # Real time: a chain of instants; invocations sort before completions at equal times,
    # so touching operations are concurrent (no edge).
    instants = sorted([(op.start, 0, i) for i, op in enumerate(granted)]
                      + [(op.complete.time, 1, i) for i, op in enumerate(granted)])  # type: ignore[union-attr]
    previous = None
    for position, (_, kind, i) in enumerate(instants):
        node = ("time", position)
        if previous is not None:
            graph.add_edge(previous, node)
        if kind == 0:
            graph.add_edge(node, ("acq", i))     # the instant B was invoked -> B
        else:
            graph.add_edge(("acq", i), node)     # A -> the instant A completed
        previous = node
    # Tokens: A -> down(t_A) -> up(next larger t) -> down(that t) -> ... ; up(t) -> every B with t.
    distinct = sorted(set(tokens))
    for lower, higher in zip(distinct, distinct[1:]):
        graph.add_edge(("down", lower), ("up", higher))
    for token in distinct:
        graph.add_edge(("up", token), ("down", token))
    for i, token in enumerate(tokens):
        graph.add_edge(("acq", i), ("down", token))
        graph.add_edge(("up", token), ("acq", i))
    return graph


def _cycle_anomaly(lock: Any, component: nx.DiGraph, members: list[int], granted: list[Op],
                   tokens: list[int]) -> Anomaly:
    start = ("acq", min(members))
    cycle = [edge[0] for edge in nx.find_cycle(component, source=start)]
    on_cycle = [node[1] for node in cycle if node[0] == "acq"]
    pairs = _inversions(sorted(members), granted, tokens)
    a, b = pairs[0]
    first, second = granted[a], granted[b]
    assert first.complete is not None
    return Anomaly(
        kind="token-order",
        message=(f"lock {lock!r}: acquisition by process {second.process!r} (index {second.index}, "
                 f"invoked t={second.start}) got token {tokens[b]}, not greater than token {tokens[a]} "
                 f"granted to process {first.process!r} (index {first.index}), which completed at "
                 f"t={first.complete.time} before it ({len(pairs)} such pair(s) in this cycle)"),
        indices=tuple(sorted({i for pair in pairs[:MAX_PAIRS_SHOWN] for k in pair for i in granted[k].indices})),
        details={"key": lock,
                 "cycle": [{"index": granted[i].index, "process": granted[i].process, "token": tokens[i]}
                           for i in on_cycle],
                 "pairs": [{"earlier": granted[x].index, "earlier_token": tokens[x],
                            "later": granted[y].index, "later_token": tokens[y]}
                           for x, y in pairs[:MAX_PAIRS_SHOWN]],
                 "pair_count": len(pairs)},
    )


def _inversions(members: list[int], granted: list[Op], tokens: list[int]) -> list[tuple[int, int]]:
    """For each acquisition B, the highest-token acquisition A completed before B was invoked,
    when token(A) >= token(B) (a sweep; the direct witnesses of a cycle)."""
    by_completion = sorted(members, key=lambda i: granted[i].complete.time)  # type: ignore[union-attr]
    pairs: list[tuple[int, int]] = []
    best: int | None = None
    k = 0
    for b in sorted(members, key=lambda i: granted[i].start):
        while k < len(by_completion) and granted[by_completion[k]].complete.time < granted[b].start:  # type: ignore[union-attr]
            a = by_completion[k]
            if best is None or tokens[a] > tokens[best]:
                best = a
            k += 1
        if best is not None and tokens[best] >= tokens[b]:
            pairs.append((best, b))
    return pairs


def _duplicates(lock: Any, granted: list[Op], tokens: list[int]) -> list[Anomaly]:
    holders: dict[int, list[int]] = {}
    for i, token in enumerate(tokens):
        holders.setdefault(token, []).append(i)
    found = []
    for token, same in holders.items():
        if len(same) > 1:
            found.append(Anomaly(
                kind="duplicate-token",
                message=(f"lock {lock!r}: token {token} granted {len(same)} times (indices "
                         f"{', '.join(str(granted[i].index) for i in same)})"),
                indices=tuple(i for k in same for i in granted[k].indices),
                details={"key": lock, "token": token,
                         "acquisitions": [{"index": granted[i].index, "process": granted[i].process}
                                          for i in same]}))
    return found
