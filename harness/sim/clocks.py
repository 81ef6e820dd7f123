"""Clocks that the simulation can step and re-rate: a node's wall clock, a client's monotonic clock.

A `SkewableClock` reads `origin + virtual time` until the nemesis changes it:
`jump(offset)` steps it from now on, `set_rate(rate)` makes it advance at
`rate` from its current reading (no step), `reset()` returns it to true time
(plus its origin) at rate 1. Readings are a pure function of virtual time
and the changes made, so they replay.
"""

from __future__ import annotations

from harness.sim.kernel import Kernel


class SkewableClock:
    """Seconds: `origin` plus virtual time, with jumps and a rate (see the module docstring)."""

    def __init__(self, kernel: Kernel, origin: float) -> None:
        self._kernel = kernel
        self._origin = origin
        self.reset()

    def reset(self) -> None:
        """Back to true time (plus the origin), rate 1."""
        self._anchor_true = self._kernel.now
        self._anchor_reading = self._origin + self._kernel.now
        self.rate = 1.0

    def read(self) -> float:
        return self._anchor_reading + (self._kernel.now - self._anchor_true) * self.rate

    def jump(self, offset_s: float) -> None:
        """Step the clock by `offset_s` (forward or back) from now on."""
        self._anchor_reading = self.read() + offset_s
        self._anchor_true = self._kernel.now

    def set_rate(self, rate: float) -> None:
        """Advance at `rate` from now on, continuing from the current reading."""
        if not rate > 0:
            raise ValueError(f"a clock rate must be > 0, not {rate}")
        self._anchor_reading = self.read()
        self._anchor_true = self._kernel.now
        self.rate = rate

    @property
    def offset_s(self) -> float:
        """How far this clock is from true time (plus its origin) now."""
        return self.read() - (self._origin + self._kernel.now)
