"""Waiting in tests for something another process or thread does a moment later."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0,
               describe: Callable[[], Any] | None = None) -> None:
    """Poll `predicate` every 10 ms; AssertionError (with `describe()`, the state seen) after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            seen = f": {describe()!r}" if describe is not None else ""
            raise AssertionError(f"condition not reached within {timeout:g} s{seen}")
        time.sleep(0.01)
