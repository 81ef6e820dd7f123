"""Lua scripts as named values: called by EVALSHA, re-sent with EVAL on NOSCRIPT.

Each module keeps its scripts as `Script` constants whose source starts with
a header comment stating KEYS, ARGV and the return value. A node that was
replaced or restarted empty has no scripts cached: the fan-out answers its
NOSCRIPT by sending EVAL with the source, which runs the script and caches
it on that node again, so every later call is an EVALSHA.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from majorityredis.fanout import Command


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script and its SHA1; `command()` builds the EVALSHA for one call."""

    name: str
    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())

    def command(self, keys: Sequence[Any], args: Sequence[Any] = ()) -> Command:
        tail = (len(keys), *keys, *args)
        return Command(("EVALSHA", self.sha, *tail), on_noscript=("EVAL", self.source, *tail))
