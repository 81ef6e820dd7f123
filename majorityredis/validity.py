"""How long a hold is safe to rely on: Redlock's validity rule, shared by the Lock and the LockingQueue.

A hold asked for at `started` (the client's monotonic clock, read *before*
the request was sent, so the time the request took is already subtracted)
for `ttl` seconds is safe until ``started + ttl - drift``, where
``drift = ttl * drift_factor + drift_ms`` allows for servers whose clocks run
faster than ours and for the granularity of expiry.
"""

from __future__ import annotations

import math


def drift_seconds(ttl: float, drift_factor: float, drift_ms: float) -> float:
    """The safety margin subtracted from every validity: ttl * drift_factor + drift_ms."""
    return ttl * drift_factor + drift_ms / 1000.0


def hold_deadline(started: float, ttl: float, drift_factor: float, drift_ms: float) -> float:
    """Until when a hold asked for at `started` is safe: its ttl minus the drift allowance."""
    return started + ttl - drift_seconds(ttl, drift_factor, drift_ms)


def check_ttl(ttl: float, drift_factor: float, drift_ms: float) -> None:
    """ValueError unless `ttl` is positive and longer than its drift allowance (else no hold is ever safe)."""
    if not ttl > 0:
        raise ValueError(f"ttl must be > 0 seconds, not {ttl}")
    if not math.isfinite(ttl):
        raise ValueError(f"ttl must be a finite number of seconds, not {ttl}")
    if drift_seconds(ttl, drift_factor, drift_ms) >= ttl:
        raise ValueError(f"ttl={ttl} s is not longer than the drift margin "
                         f"({drift_seconds(ttl, drift_factor, drift_ms):g} s): pass a longer ttl")
