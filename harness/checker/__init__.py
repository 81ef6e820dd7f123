"""Checkers: pure functions from a history to a `Verdict` (they never touch Redis).

`check(events, name)` runs one by name. Linearizability models ("register",
"cas-register", "kv", "mutex") share the WGL search (harness.checker.linearizability);
"register" and "cas-register" decide keys whose written values are unique without
it (harness.checker.unique_values; option `algorithm`: auto, unique-values, wgl);
the graph checkers ("mutex-graph", "fencing", "resource", "queue") read the lock
and queue workloads' histories. A new checker is one module and one entry in
`CHECKERS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from harness.checker.fencing import check_fencing
from harness.checker.linearizability import UNIQUE_VALUE_MODELS, check_linearizable
from harness.checker.models import MODELS, make_model
from harness.checker.mutex_graph import check_mutex_graph
from harness.checker.queue import check_queue
from harness.checker.resource import check_resource
from harness.checker.verdict import Anomaly, Verdict, compose
from harness.errors import BadInput
from harness.history.events import Event

CheckerFunction = Callable[..., Verdict]


def _linearizability(name: str) -> CheckerFunction:
    default = "auto" if name in UNIQUE_VALUE_MODELS else "wgl"

    def run(events: Sequence[Event], *, time_limit: float | None = None,
            clock: Callable[[], float] = time.perf_counter, algorithm: str = default, **options: Any) -> Verdict:
        return check_linearizable(events, make_model(name, **options), time_limit=time_limit, clock=clock,
                                  algorithm=algorithm)
    run.__doc__ = f"Linearizability of the history against the {name!r} model."
    return run


def _no_options(name: str, function: Callable[[Sequence[Event]], Verdict]) -> CheckerFunction:
    def run(events: Sequence[Event], *, time_limit: float | None = None,
            clock: Callable[[], float] = time.perf_counter, **options: Any) -> Verdict:
        if options:
            raise BadInput(None, f"checker {name!r} takes no option {', '.join(sorted(options))}",
                           field=sorted(options)[0])
        return function(events)  # graph checkers are polynomial: no time limit needed
    run.__doc__ = function.__doc__
    return run


# name -> checker; the order is the order of `python -m harness check --help`.
CHECKERS: dict[str, CheckerFunction] = {
    **{name: _linearizability(name) for name in MODELS},
    "mutex-graph": _no_options("mutex-graph", check_mutex_graph),
    "fencing": _no_options("fencing", check_fencing),
    "resource": _no_options("resource", check_resource),
    "queue": _no_options("queue", check_queue),
}
CHECKER_NAMES: tuple[str, ...] = tuple(CHECKERS)


def check(events: Sequence[Event], name: str, *, time_limit: float | None = None, **options: Any) -> Verdict:
    """Run the checker `name` on `events`; `elapsed_s` of the verdict covers the whole check.

    Raises `BadInput` for an unknown name (the message lists the known ones) or
    an option the checker does not take (`init` is for register, cas-register, kv;
    `algorithm` for the linearizability models, see check_linearizable).
    """
    checker = CHECKERS.get(name)
    if checker is None:
        raise BadInput(None, f"unknown model {name!r}; known: {', '.join(CHECKER_NAMES)}", field="model")
    started = time.perf_counter()
    verdict = checker(list(events), time_limit=time_limit, **options)
    elapsed = time.perf_counter() - started
    return Verdict(checker=verdict.checker, valid=verdict.valid, anomalies=verdict.anomalies,
                   warnings=verdict.warnings, stats=verdict.stats, elapsed_s=elapsed)


def check_all(events: Sequence[Event], names: Iterable[str], *, time_limit: float | None = None) -> Verdict:
    """Several checkers on one history, composed (false beats "unknown" beats true)."""
    chosen = list(names)
    return compose([check(events, name, time_limit=time_limit) for name in chosen],
                   checker="+".join(chosen))


__all__ = ["Anomaly", "CHECKER_NAMES", "CHECKERS", "Verdict", "check", "check_all", "compose"]
