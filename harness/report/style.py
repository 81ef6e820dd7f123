"""Colours shared by the HTML timeline and the matplotlib plots, so both read the same way."""

from __future__ import annotations

from collections.abc import Iterable

OUTCOME_COLOURS = {"ok": "#4caf50", "fail": "#e0524a", "info": "#f0a830"}

# well-known fault kinds keep their colour across runs; others take the next free one
_KNOWN_FAULTS = {
    "partition-halves": "#8e6fc4", "partition": "#8e6fc4", "partition-random": "#a879c9",
    "partition-majorities-ring": "#b57bb0", "isolate": "#7d63b8",
    "kill": "#555555", "pause": "#3d85c6", "latency": "#2aa198", "clock": "#b58900",
    "clock-jump": "#b58900", "clock-rate": "#d4a017",
}
_PALETTE = ["#c27ba0", "#6d9eeb", "#93c47d", "#e69138", "#76a5af", "#a64d79", "#3c78d8"]


def fault_colours(kinds: Iterable[str]) -> dict[str, str]:
    """kind -> colour, stable for the well-known kinds, in first-seen order for the rest."""
    colours: dict[str, str] = {}
    spare = iter(_PALETTE * 10)
    for kind in kinds:
        if kind not in colours:
            colours[kind] = _KNOWN_FAULTS.get(kind) or next(spare)
    return colours
