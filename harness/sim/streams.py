"""Independent random streams derived from one seed, one per simulated thing.

A simulation draws every random choice from `random.Random` streams derived
from (seed, path), e.g. `stream(seed, "link", 2, "n3")`: each client, link,
node and fault window has its own. So changing one fault (or shrinking the
schedule) leaves every other stream — latencies of other links, the hold
values of other clients — exactly as it was, and a failure shrinks without
the whole run reshuffling (FoundationDB's and TigerBeetle's practice).
"""

from __future__ import annotations

import hashlib
import random


def stream_seed(seed: int, *path: object) -> int:
    """A 64-bit seed for the stream at `path` under `seed`; stable across Python versions and processes."""
    text = "/".join(["majorityredis-sim", str(seed), *map(str, path)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def stream(seed: int, *path: object) -> random.Random:
    """The random stream at `path` under `seed`."""
    return random.Random(stream_seed(seed, *path))
