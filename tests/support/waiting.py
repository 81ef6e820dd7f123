"""Waiting in tests for something another process or thread does a moment later."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# Lock.acquire returns "within `timeout` plus about three client timeouts" (its docstring); "about"
# is this much for a loaded machine's scheduling (a liveness bound, not a speed assertion)
SCHEDULING_SLACK = 0.5


def acquire_bound(timeout: float, client_timeout: float) -> float:
    """The documented latest return of `Lock.acquire(timeout=timeout)` (seconds after the call)."""
    return timeout + 3 * client_timeout + SCHEDULING_SLACK


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0,
               describe: Callable[[], Any] | None = None) -> None:
    """Poll `predicate` every 10 ms; AssertionError (with `describe()`, the state seen) after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            seen = f": {describe()!r}" if describe is not None else ""
            raise AssertionError(f"condition not reached within {timeout:g} s{seen}")
        time.sleep(0.01)
