"""The Wing & Gong linearizability search with Lowe's cache, as Porcupine runs it.

Each operation contributes a *call* and a *return* entry to a doubly linked
list ordered by time (calls before returns at equal times, so touching ops count
as concurrent). The search walks the list: at a call it tries to make the op
take effect now (`step` from the current state); if the model accepts and the
pair (set of linearized ops, new state) was never seen, it lifts the op's two
entries out of the list and starts again from the head. Reaching a return
means the op pending there can no longer take effect: undo the last choice
(re-insert its entries where they were, "dancing links") and try the next
call. The list empties exactly when a linearization exists.

One pruning on top (sound by an exchange argument): ops that never returned
(`info`) with the same input are interchangeable, so they are linearized in
invocation order only; the etcd corpus has many timed-out writes of equal values.

The hot loop uses parallel lists of ints (no objects, no attribute lookups);
the set of linearized ops is a Python int used as a bitset.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union

INFINITY = float("inf")
SLICE_BACKTRACKS = 4096        # backtracks per slice of a resumable search (a few ms)
TRIED_STATES_KEPT = 16        # per op, for the explanation of a failure

Outcome = Union[bool, Literal["unknown"]]
Step = Callable[[Any, Any], "tuple[bool, Any]"]


@dataclass(frozen=True, slots=True)
class Call:
    """One op as the search sees it: its interval and its model input. `end` None = never returned."""

    start: float
    end: float | None
    input: Any


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The search's answer; on False, where it got stuck.

    `prefix`: positions (in the `calls` given) of the longest linearizable prefix
    found, in linearization order; `state`: the model state after it;
    `candidates`: the ops that were pending there and none of which could take
    effect next; `blocker`: the op whose return forced the search back;
    `tried_states`: for each op that forced a backtrack, some of the states the
    search was in when that op's return came (it could not take effect from
    them, or it could but nothing could follow).
    """

    outcome: Outcome
    prefix: tuple[int, ...] = ()
    state: Any = None
    candidates: tuple[int, ...] = ()
    blocker: int | None = None
    tried_states: dict[int, set[Hashable]] = field(default_factory=dict)
    backtracks: int = 0
    cache_size: int = 0


def search(calls: Sequence[Call], init: Hashable, step: Step, *, deadline: float | None = None,
           clock: Callable[[], float] = time.perf_counter) -> SearchResult:
    """Is there a linearization of `calls` from state `init` under `step`?

    Returns outcome True/False, or "unknown" if `clock()` passes `deadline`
    first (never a guess).
    """
    running = searcher(calls, init, step)
    try:
        while True:
            next(running)
            if deadline is not None and clock() > deadline:
                running.close()
                return SearchResult("unknown")
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]


def searcher(calls: Sequence[Call], init: Hashable, step: Step, *,
             slice_backtracks: int = SLICE_BACKTRACKS) -> Generator[None, None, SearchResult]:
    """The search as a generator: it yields after every `slice_backtracks` backtracks,
    so a caller can interleave several searches and stop them at a deadline; its
    return value (StopIteration.value) is the SearchResult, True or False."""
    n = len(calls)
    if n == 0:
        return SearchResult(True, state=init)

    # Entries sorted by time; calls (kind 0) before returns (kind 1) at equal times.
    order = sorted(
        [(c.start, 0, i) for i, c in enumerate(calls)]
        + [(INFINITY if c.end is None else c.end, 1, i) for i, c in enumerate(calls)])
    head, tail = 0, 2 * n + 1
    size = 2 * n + 2
    nxt = list(range(1, size + 1))
    prv = list(range(-1, size - 1))
    op_of = [0] * size            # entry -> op position
    match = [0] * size            # call entry -> its return entry; 0 marks a return entry
    input_of: list[Any] = [None] * size
    bit_of = [0] * size
    call_entry = [0] * n
    for entry, (_, kind, i) in enumerate(order, start=1):
        op_of[entry] = i
        if kind == 0:
            call_entry[i] = entry
            input_of[entry] = calls[i].input
            bit_of[entry] = 1 << i
        else:
            match[call_entry[i]] = entry
    # Symmetry: unknown ops (no return) with the same input are interchangeable, so only
    # linearize them in invocation order: an op waits for its predecessor's bit.
    waits_for = [0] * size
    latest_alike: dict[Any, int] = {}
    for _, kind, i in order:
        if kind == 0 and calls[i].end is None:
            alike = latest_alike.get(calls[i].input)
            if alike is not None:
                waits_for[call_entry[i]] = 1 << alike
            latest_alike[calls[i].input] = i

    state: Any = init
    linearized = 0
    stack: list[tuple[int, Any]] = []
    cache: set[tuple[int, Any]] = set()
    cache_add = cache.add
    push = stack.append
    pop = stack.pop
    tried: dict[int, set[Hashable]] = {}
    best_depth = -1
    best: tuple[tuple[int, ...], Any, tuple[int, ...], int] | None = None
    backtracks = 0

    entry = nxt[head]
    while True:
        ret = match[entry]
        if ret:
            wait = waits_for[entry]
            if wait and not linearized & wait:
                entry = nxt[entry]
                continue
            ok, new_state = step(state, input_of[entry])
            if ok:
                new_linearized = linearized | bit_of[entry]
                key = (new_linearized, new_state)
                if key not in cache:
                    cache_add(key)
                    push((entry, state))
                    state = new_state
                    linearized = new_linearized
                    # lift the call and its return out of the list
                    before, after = prv[entry], nxt[entry]
                    nxt[before] = after
                    prv[after] = before
                    before, after = prv[ret], nxt[ret]
                    nxt[before] = after
                    prv[after] = before
                    entry = nxt[head]
                    if entry == tail:
                        break  # every op linearized
                    continue
            entry = nxt[entry]
            continue

        # A return: the op pending here cannot take effect any more on this path.
        backtracks += 1
        blocker = op_of[entry]
        seen = tried.get(blocker)
        if seen is None:
            tried[blocker] = {state}
        elif len(seen) < TRIED_STATES_KEPT:
            seen.add(state)
        if len(stack) > best_depth:
            best_depth = len(stack)
            candidates = []
            walk = nxt[head]
            while walk != entry:
                if match[walk]:
                    candidates.append(op_of[walk])
                walk = nxt[walk]
            best = (tuple(op_of[e] for e, _ in stack), state, tuple(candidates), blocker)
        if not stack:
            assert best is not None
            prefix, stuck_state, candidates_found, blocker = best
            return SearchResult(False, prefix=prefix, state=stuck_state, candidates=candidates_found,
                                blocker=blocker, tried_states=tried, backtracks=backtracks,
                                cache_size=len(cache))
        if backtracks % slice_backtracks == 0:
            yield
        entry, state = pop()
        linearized ^= bit_of[entry]
        # re-insert the return, then the call, where they were
        ret = match[entry]
        nxt[prv[ret]] = ret
        prv[nxt[ret]] = ret
        nxt[prv[entry]] = entry
        prv[nxt[entry]] = entry
        entry = nxt[entry]
    return SearchResult(True, prefix=tuple(op_of[e] for e, _ in stack), state=state,
                        backtracks=backtracks, cache_size=len(cache))
