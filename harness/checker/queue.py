"""LockingQueue histories: each item held by at most one consumer, consumed once, never lost or invented.

Per queue (`key`), from the ops of the queue workload (docs/design.md §3: "put", "get", "extend",
"consume", "release", "crash", "drain"):
- "double-hold": two deliveries of an item whose certain holds overlap
  (a hold is [get ok, min(consume/release invoke, validity end)], extends prolong it);
- "double-consume": an item consumed `ok` more than once;
- "lost": an acknowledged (`ok`) put never delivered by any `ok` get — judged
  only when the history has a `drain` ok (the final quiescent phase), else a
  "lost-unjudged" warning;
- "phantom": an item delivered that was never put (or only by failed puts, or
  delivered before its put was invoked).
Warnings: "ordering-inversion" (put A completed before put B was invoked, same
priority, yet B was delivered before A's first delivery was even asked for),
"never-consumed" (delivered, never consumed, after a drain), "drain-not-empty"
(the queue's size after the drain is not 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from harness.checker.holds import Hold, certain_end, field_of, overlapping_pairs
from harness.checker.verdict import Anomaly, Verdict, verdict_from
from harness.history.events import Event, Op, pair_operations

MAX_REPORTED = 1000


@dataclass(slots=True)
class _Queue:
    """What one queue's ops say, indexed by item."""

    puts: dict[str, list[Op]] = field(default_factory=dict)
    deliveries: dict[str, list[Op]] = field(default_factory=dict)
    consumed: dict[str, list[Op]] = field(default_factory=dict)
    consume_unknown: set[str] = field(default_factory=set)
    extensions: dict[tuple[str, Any], list[tuple[int, float]]] = field(default_factory=dict)
    ends: dict[tuple[str, Any], list[int]] = field(default_factory=dict)
    drained: bool = False
    left_after_drain: int = 0


def check_queue(events: Sequence[Event]) -> Verdict:
    """Queue safety (double hold, double consume, lost, phantom) and ordering warnings."""
    queues: dict[Any, _Queue] = {}
    for op in pair_operations(events):
        _record(queues.setdefault(op.key, _Queue()), op)
    anomalies: list[Anomaly] = []
    warnings: list[Anomaly] = []
    stats: dict[str, Any] = {"queues": len(queues), "puts_ok": 0, "delivered_items": 0,
                             "deliveries": 0, "consumed_items": 0, "drained": False}
    for name, queue in queues.items():
        stats["puts_ok"] += sum(1 for ops in queue.puts.values() if any(o.type == "ok" for o in ops))
        stats["delivered_items"] += len(queue.deliveries)
        stats["deliveries"] += sum(len(d) for d in queue.deliveries.values())
        stats["consumed_items"] += len(queue.consumed)
        stats["drained"] = stats["drained"] or queue.drained
        anomalies += _double_holds(name, queue)
        anomalies += _double_consumes(name, queue)
        anomalies += _phantoms(name, queue)
        lost = _lost(name, queue)
        if queue.drained:
            anomalies += lost
            warnings += _never_consumed(name, queue)
            if queue.left_after_drain:
                warnings.append(Anomaly(
                    kind="drain-not-empty",
                    message=f"queue {name!r} still reported {queue.left_after_drain} item(s) after the drain",
                    details={"key": name, "size": queue.left_after_drain}))
        elif lost:
            warnings.append(Anomaly(
                kind="lost-unjudged",
                message=(f"queue {name!r}: {len(lost)} acknowledged item(s) never delivered, but the "
                         "history has no drain, so they may still be in the queue"),
                indices=tuple(i for a in lost[:50] for i in a.indices),
                details={"key": name, "items": [a.details["item"] for a in lost[:50]], "count": len(lost)}))
        warnings += _inversions(name, queue)
    return verdict_from("queue", anomalies[:MAX_REPORTED], warnings[:MAX_REPORTED], stats=stats)


def _record(queue: _Queue, op: Op) -> None:
    if op.f == "put":
        queue.puts.setdefault(field_of(op, op.value, "item", (str,)), []).append(op)
    elif op.f == "get" and op.type == "ok" and op.result is not None:
        item = field_of(op, op.result, "item", (str,))
        field_of(op, op.result, "validity_ms", (int, float))
        queue.deliveries.setdefault(item, []).append(op)
    elif op.f == "extend" and op.type == "ok":
        item = field_of(op, op.value, "item", (str,))
        token = field_of(op, op.value, "token")
        validity = field_of(op, op.result, "validity_ms", (int, float))
        queue.extensions.setdefault((item, token), []).append((op.complete.time, validity))  # type: ignore[union-attr]
    elif op.f in ("consume", "release"):
        item = field_of(op, op.value, "item", (str,))
        token = op.value.get("token")
        queue.ends.setdefault((item, token), []).append(op.start)
        if op.f == "consume" and op.type == "ok":
            queue.consumed.setdefault(item, []).append(op)
        elif op.f == "consume" and op.type == "info":
            queue.consume_unknown.add(item)
    elif op.f == "drain" and op.type == "ok":
        queue.drained = True
        size = op.result.get("size") if isinstance(op.result, dict) else None
        queue.left_after_drain = size if isinstance(size, int) and not isinstance(size, bool) else 0


def _holds(item: str, queue: _Queue) -> list[Hold]:
    holds = []
    for get in queue.deliveries.get(item, []):
        token = get.result.get("token")
        granted = get.complete.time  # type: ignore[union-attr]
        ended = [t for t in queue.ends.get((item, token), []) if t >= get.start]
        end, ended_by = certain_end(granted, get.result["validity_ms"],
                                    queue.extensions.get((item, token), []), min(ended) if ended else None)
        if end > granted:
            holds.append(Hold(item, get.process, token, granted, end, get, ended_by))
    return holds


def _double_holds(name: Any, queue: _Queue) -> list[Anomaly]:
    found = []
    for item in queue.deliveries:
        holds = _holds(item, queue)
        graph = nx.Graph()
        for a, b in overlapping_pairs(holds):
            graph.add_edge(id(a), id(b), pair=(a, b))
        for _, _, data in graph.edges(data=True):
            a, b = data["pair"]
            found.append(Anomaly(
                kind="double-hold",
                message=(f"queue {name!r}: item {item!r} held by process {a.process!r} (token {a.token}, "
                         f"t={a.start}..{int(a.end)}) and process {b.process!r} (token {b.token}, "
                         f"t={b.start}..{int(b.end)}) at the same time"),
                indices=tuple(sorted((a.index, b.index))),
                details={"key": name, "item": item, "holds": [a.to_json(), b.to_json()]}))
    return found


def _double_consumes(name: Any, queue: _Queue) -> list[Anomaly]:
    return [Anomaly(
        kind="double-consume",
        message=(f"queue {name!r}: item {item!r} consumed {len(ops)} times (by processes "
                 f"{', '.join(repr(o.process) for o in ops)})"),
        indices=tuple(i for o in ops for i in o.indices),
        details={"key": name, "item": item, "consumes": [{"index": o.index, "process": o.process}
                                                         for o in ops]})
        for item, ops in queue.consumed.items() if len(ops) > 1]


def _phantoms(name: Any, queue: _Queue) -> list[Anomaly]:
    found = []
    for item, gets in queue.deliveries.items():
        first = min(gets, key=lambda g: g.complete.time)  # type: ignore[union-attr]
        puts = [p for p in queue.puts.get(item, []) if p.type != "fail"]
        if not puts:
            why = "never put" if item not in queue.puts else "only put by puts that failed"
        elif min(p.start for p in puts) > first.complete.time:  # type: ignore[union-attr]
            why = "delivered before its put was invoked"
        else:
            continue
        found.append(Anomaly(
            kind="phantom",
            message=f"queue {name!r}: item {item!r} delivered to process {first.process!r} but {why}",
            indices=first.indices,
            details={"key": name, "item": item, "reason": why}))
    return found


def _lost(name: Any, queue: _Queue) -> list[Anomaly]:
    found = []
    for item, puts in queue.puts.items():
        acked = [p for p in puts if p.type == "ok"]
        if acked and item not in queue.deliveries:
            found.append(Anomaly(
                kind="lost",
                message=(f"queue {name!r}: item {item!r} put ok by process {acked[0].process!r} "
                         f"(index {acked[0].index}) was never delivered"),
                indices=acked[0].indices,
                details={"key": name, "item": item}))
    return found


def _never_consumed(name: Any, queue: _Queue) -> list[Anomaly]:
    return [Anomaly(
        kind="never-consumed",
        message=f"queue {name!r}: item {item!r} was delivered but never consumed, even by the drain",
        indices=tuple(g.index for g in gets),
        details={"key": name, "item": item})
        for item, gets in queue.deliveries.items()
        if item not in queue.consumed and item not in queue.consume_unknown]


def _inversions(name: Any, queue: _Queue) -> list[Anomaly]:
    """Put A done before put B began (same priority), yet B's first delivery completed before A's
    first delivery was invoked. One witness A (the latest-delivered) per inverted B."""
    rows: dict[Any, list[tuple[Op, Op]]] = {}  # priority -> (put ok, first delivery)
    for item, puts in queue.puts.items():
        acked = [p for p in puts if p.type == "ok"]
        gets = queue.deliveries.get(item)
        if not acked or not gets:
            continue
        priority = acked[0].value.get("priority", 0)
        rows.setdefault(priority, []).append((acked[0], min(gets, key=lambda g: g.start)))
    found = []
    for priority, pairs in rows.items():
        by_put_end = sorted(pairs, key=lambda pair: pair[0].complete.time)  # type: ignore[union-attr]
        latest: tuple[Op, Op] | None = None
        k = 0
        for put_b, get_b in sorted(pairs, key=lambda pair: pair[0].start):
            while k < len(by_put_end) and by_put_end[k][0].complete.time < put_b.start:  # type: ignore[union-attr]
                if latest is None or by_put_end[k][1].start > latest[1].start:
                    latest = by_put_end[k]
                k += 1
            if latest is not None and get_b.complete.time < latest[1].start:  # type: ignore[union-attr]
                put_a, get_a = latest
                found.append(Anomaly(
                    kind="ordering-inversion",
                    message=(f"queue {name!r}: {put_b.value['item']!r} was put after {put_a.value['item']!r} "
                             f"(priority {priority}) but delivered first"),
                    indices=(put_a.index, put_b.index, get_b.index, get_a.index),
                    details={"key": name, "priority": priority, "earlier_item": put_a.value["item"],
                             "later_item": put_b.value["item"]}))
    return found
