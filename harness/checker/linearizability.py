"""The linearizability checker: models + the WGL search, per partition (P-compositionality).

Op semantics (docs/design.md §2): `ok` took effect between invocation and completion;
`fail` never took effect (dropped); `info` (or no completion) may have taken
effect at any time after its invocation, or never: it gets an infinite return
time, and an unknown read is dropped (it returned nothing, so it constrains
nothing). Each part the model's `partition` makes is searched on its own; a
time limit over the whole check turns an unfinished search into "unknown".

For registers whose written values are unique (the workbench's are), a
polynomial check decides instead of the search (harness.checker.unique_values);
`algorithm` chooses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

from harness.checker import unique_values
from harness.checker.models import Input, Model
from harness.checker.verdict import Anomaly, Verdict, json_key, verdict_from
from harness.checker.wgl import TRIED_STATES_KEPT, Call, SearchResult, searcher
from harness.errors import BadInput
from harness.history.events import Event, Op, pair_operations

_MAX_LISTED = 12  # candidate ops listed in an explanation (one screen)


ALGORITHMS = ("auto", "unique-values", "wgl")
UNIQUE_VALUE_MODELS = ("register", "cas-register")  # the models the unique-values check knows


def check_linearizable(events: Sequence[Event], model: Model, *, time_limit: float | None = None,
                       clock: Callable[[], float] = time.perf_counter, algorithm: str = "wgl") -> Verdict:
    """Check that the client ops of `events` are linearizable with respect to `model`.

    `algorithm` "wgl" searches every key with WGL. "auto" (register and
    cas-register) first tries each key with the unique-values check
    (harness.checker.unique_values: polynomial, no time limit needed) and searches
    with WGL only the keys whose written values repeat; "unique-values" declares
    that values are unique: a key where they repeat is bad input. The time limit
    bounds the WGL searches. stats["algorithm"] says which decided ("wgl",
    "unique-values" or "unique-values+wgl"); stats["wgl_because"] why keys fell back.

    On False, WGL gives one anomaly of kind "nonlinearizable" per failing key, with
    details {"key", "prefix", "cannot_linearize", "explanation"} (indices are the
    ops' invocation indices); the unique-values check gives anomalies of the kinds
    in harness.checker.unique_values.KINDS with the same details (an empty prefix).
    """
    if algorithm not in ALGORITHMS:
        raise BadInput(None, f"algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}",
                       field="algorithm")
    if algorithm != "wgl" and model.name not in UNIQUE_VALUE_MODELS:
        raise BadInput(None, f"algorithm {algorithm!r} applies to {', '.join(UNIQUE_VALUE_MODELS)}, "
                       f"not {model.name!r}", field="algorithm")
    started = clock()
    deadline = None if time_limit is None else started + time_limit
    ops = pair_operations(events)
    parts = model.partition(ops)
    anomalies: list[Anomaly] = []
    stats: dict[str, Any] = {"model": model.name, "ops": len(ops), "checked_ops": 0, "dropped_ops": 0,
                             "partitions": len(parts)}
    to_search = parts
    if algorithm != "wgl":
        to_search = {}
        fast_keys = unobserved = unlisted = 0
        because: dict[str, str] = {}
        for key, part in parts.items():
            outcome = unique_values.check_key(key, part, model)
            if isinstance(outcome, str):
                if algorithm == "unique-values":
                    raise BadInput(None, f"key {json_key(key)!r}: {outcome}, but the values were declared "
                                   "unique (algorithm: unique-values)", field="algorithm")
                to_search[key] = part
                if len(because) < _MAX_LISTED:
                    because[str(json_key(key))] = outcome
                continue
            fast_keys += 1
            anomalies.extend(outcome.anomalies)
            stats["checked_ops"] += outcome.checked
            stats["dropped_ops"] += outcome.dropped
            unobserved += outcome.unobserved
            unlisted += outcome.unlisted
        stats["unobserved_info_dropped"] = unobserved
        if unlisted:
            stats["unlisted_anomalies"] = unlisted
        if because:
            stats["wgl_because"] = because
        stats["algorithm"] = ("wgl" if not fast_keys else
                              unique_values.ALGORITHM + "+wgl" if to_search else unique_values.ALGORITHM)
        if not parts:
            stats["algorithm"] = unique_values.ALGORITHM   # nothing to decide: no search either
    else:
        stats["algorithm"] = "wgl"
    searched, unresolved = _search(to_search, model, deadline, clock, stats, stop=bool(anomalies))
    anomalies.extend(searched)
    if unresolved:
        # After a failure the other parts are not searched to the end: the verdict is False anyway.
        stats["unknown_keys" if not anomalies else "unchecked_keys"] = unresolved
    return verdict_from(model.name, anomalies, stats=stats, elapsed_s=clock() - started,
                        unknown=bool(unresolved))


def _search(parts: dict[Any, list[Op]], model: Model, deadline: float | None, clock: Callable[[], float],
            stats: dict[str, Any], *, stop: bool) -> tuple[list[Anomaly], list[Any]]:
    """WGL on each part, interleaved; adds its counts to `stats`. Returns the anomalies and
    the keys left undecided. With `stop` (an anomaly is known already) nothing is searched."""
    searches: list[tuple[Any, list[Op], Generator[None, None, SearchResult]]] = []
    for key, part in parts.items():
        kept: list[Op] = []
        calls: list[Call] = []
        for op in part:
            prepared = model.prepare(op)
            if prepared is None:
                stats["dropped_ops"] += 1
                continue
            kept.append(op)
            calls.append(Call(op.start, op.end, prepared))
        stats["checked_ops"] += len(calls)
        searches.append((key, kept, searcher(calls, model.init(), model.step)))
    if stop:
        for _, _, running in searches:
            running.close()
        results = [SearchResult("unknown") for _ in searches]
    else:
        results = _run_interleaved(searches, deadline, clock)
    stats["backtracks"] = sum(r.backtracks for r in results)
    stats["cache_size"] = sum(r.cache_size for r in results)
    anomalies = [_anomaly(key, kept, results[i], model)
                 for i, (key, kept, _) in enumerate(searches) if results[i].outcome is False]
    unresolved = [json_key(key) for i, (key, _, _) in enumerate(searches) if results[i].outcome == "unknown"]
    return anomalies, unresolved


def _run_interleaved(searches: list[tuple[Any, list[Op], Generator[None, None, SearchResult]]],
                     deadline: float | None, clock: Callable[[], float]) -> list[SearchResult]:
    """Advance the searches round-robin, one slice each per round.

    A part that is not linearizable may take exponentially long to refute while
    another fails in a few steps; interleaving finds the quick failure first.
    After the round in which some part fails, or at the deadline, the searches
    still running are stopped and their result is "unknown".
    """
    results: list[SearchResult | None] = [None] * len(searches)
    running = list(range(len(searches)))
    while running:
        still: list[int] = []
        for i in running:
            try:
                next(searches[i][2])
                still.append(i)
            except StopIteration as finished:
                results[i] = finished.value
            if deadline is not None and clock() > deadline:
                still.extend(j for j in running if j > i)
                break
        running = still
        failed = any(r is not None and r.outcome is False for r in results)
        if failed or (deadline is not None and clock() > deadline):
            break
    for i in running:
        searches[i][2].close()
        results[i] = SearchResult("unknown")
    return [r if r is not None else SearchResult("unknown") for r in results]


def _anomaly(key: Any, ops: list[Op], result: SearchResult, model: Model) -> Anomaly:
    stuck = [ops[i].index for i in result.candidates]
    blocker = ops[result.blocker] if result.blocker is not None else None
    summary = _why(blocker, result, model) if blocker else "no linearization exists"
    return Anomaly(
        kind="nonlinearizable",
        message=f"key {json_key(key)!r}: {summary}",
        indices=tuple(blocker.indices) if blocker else tuple(stuck),
        details={"key": json_key(key), "prefix": [ops[i].index for i in result.prefix],
                 "cannot_linearize": stuck, "explanation": explain(key, ops, result, model)},
    )


def _why(op: Op, result: SearchResult, model: Model) -> str:
    """"read 3 by process 1 (index 7, t=…) cannot take effect: … the only possible states were 1, 2"."""
    prepared = _input(model, op)
    states = _sorted(list(result.tried_states.get(result.blocker, ())))  # type: ignore[arg-type]
    refused = [s for s in states if not model.step(s, prepared)[0]]
    dead_ends = [s for s in states if model.step(s, prepared)[0]]
    more = " (and maybe others)" if len(states) >= TRIED_STATES_KEPT else ""
    why = (f"{model.describe_op(prepared)} by process {op.process!r} (index {op.index}, "
           f"t={op.start}..{_end(op)}) cannot take effect: by the time it had to, the only possible "
           f"states were {_listing(model, refused or states)}{more}")
    if refused and dead_ends:
        why += f" (from {_listing(model, dead_ends)} it could, but then other ops could not follow)"
    return why


def _input(model: Model, op: Op) -> Input:
    """The model's input for an op the search placed or tried (only those are explained)."""
    prepared = model.prepare(op)
    if prepared is None:  # the search never sees an op its model does not take
        raise ValueError(f"op at index {op.index} ({op.f!r}) is not an input of the {model.name} model")
    return prepared


def _listing(model: Model, states: list[Any]) -> str:
    return ", ".join(model.describe_state(s) for s in states)


def explain(key: Any, ops: list[Op], result: SearchResult, model: Model) -> str:
    """One screen of text: why the blocking op fails, the longest linearizable prefix, the stuck ops.

    Line 0 is a header, line 1 the reason (also the anomaly's message).
    """
    lines = [f"Not linearizable ({model.name}, key {json_key(key)!r}):"]
    if result.blocker is not None:
        lines.append(f"  {_why(ops[result.blocker], result, model)}.")
    lines.append(f"  Longest linearizable prefix: {len(result.prefix)} of {len(ops)} ops, "
                 f"leaving the state {model.describe_state(result.state)}; "
                 "none of these pending ops can take effect next:")
    for i in result.candidates[:_MAX_LISTED]:
        op = ops[i]
        lines.append(f"    index {op.index:>6}  process {op.process!r:>6}  t={op.start}..{_end(op)}  "
                     f"{model.describe_op(_input(model, op))}")
    if len(result.candidates) > _MAX_LISTED:
        lines.append(f"    ... and {len(result.candidates) - _MAX_LISTED} more")
    if result.prefix:
        lines.append("  The prefix ends with: " + "; ".join(
            f"{model.describe_op(_input(model, ops[i]))} (index {ops[i].index})" for i in result.prefix[-5:]))
    return "\n".join(lines)


def _sorted(values: list[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:  # e.g. None among ints
        return sorted(values, key=repr)


def _end(op: Op) -> str:
    return "?" if op.end is None else str(op.end)


