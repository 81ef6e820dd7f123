"""Sweeps of scenarios over many seeds (in this process or on Dask distributed), swarm fault mixes,
and shrinking a failing run to a minimal reproducer."""

from __future__ import annotations

import re

from harness.errors import BadInput

SEED_RANGE = re.compile(r"^\s*(\d+)\s*\.\.\s*(\d+)\s*$")


def parse_seeds(text: str) -> range:
    """"A..B" (both included) -> range(A, B + 1); BadInput for anything else."""
    match = SEED_RANGE.match(text)
    if not match:
        raise BadInput(None, f"--seeds takes a range A..B of whole numbers (e.g. 0..999), not {text!r}",
                       field="--seeds")
    first, last = int(match.group(1)), int(match.group(2))
    if last < first:
        raise BadInput(None, f"--seeds {text}: the range is empty ({last} < {first})", field="--seeds")
    return range(first, last + 1)
