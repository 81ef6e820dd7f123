"""Checks of the arguments callers pass in, made before any I/O: a clear TypeError or
ValueError instead of a raw error deep inside (or, worse, a call that quietly never works).

- numbers (timeouts, ttls, delays, drift): real numbers, finite — NaN compares false to
  everything, so a NaN timeout never expires and a NaN ttl passes every `> 0` check;
- names of locks and queues: str, or bytes that are UTF-8 — one name maps to one set of
  keys however it is given (b"jobs" and "jobs" are the same lock, with the same fencing
  counter);
- register keys: str or bytes;
- servers: each at most once (the same host, port and db twice would count one server's
  vote twice toward a quorum);
- queue items: at most the size the timeout can carry (`max_item_size`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

# The transfer rate a queue item's default size limit assumes (bytes per second, from one client
# to all servers at once): well below a gigabit link, so the limit holds on a busy network too.
ASSUMED_TRANSFER_RATE = 50_000_000


def check_finite(**values: Any) -> None:
    """TypeError unless each value is a real number (or None, or a tuple of numbers); ValueError
    if one is NaN or infinite. Keyword names are the parameter names shown in the message."""
    for name, value in values.items():
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if item is None and not isinstance(value, tuple):
                continue
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise TypeError(f"{name} must be a number (seconds, or the unit documented), "
                                f"not {type(item).__name__}: {item!r}")
            if not math.isfinite(item):
                raise ValueError(f"{name} must be a finite number, not {item!r}")


def key_name(kind: str, name: Any) -> str:
    """The name of a lock or queue as str: bytes are decoded as UTF-8, so b"x" and "x" name the
    same keys. TypeError for other types, ValueError for bytes that are not UTF-8."""
    if isinstance(name, str):
        return name
    if isinstance(name, (bytes, bytearray, memoryview)):
        try:
            return bytes(name).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"a {kind} name given as bytes must be UTF-8 text (one name, one set of "
                             f"keys), not {bytes(name)[:40]!r}") from None
    raise TypeError(f"a {kind} name must be str (or UTF-8 bytes), not {type(name).__name__}: {name!r}"[:200])


def register_key(key: Any) -> None:
    """TypeError unless a register key is str or bytes."""
    if not isinstance(key, (str, bytes)):
        raise TypeError(f"a register key must be str or bytes, not {type(key).__name__}: {key!r}"[:200])


def check_distinct_servers(clients: Sequence[Any], identity_of: Callable[[Any], tuple[Any, ...]]) -> None:
    """ValueError when two clients reach the same server (`identity_of`: the runtime's
    `server_identity`, e.g. host, port and db)."""
    seen: dict[tuple[Any, ...], int] = {}
    for i, client in enumerate(clients):
        identity = identity_of(client)
        if identity in seen:
            where = (f"unix socket {identity[1]}, db {identity[2]}" if identity[0] == "unix"
                     else f"{identity[0]}:{identity[1]}, db {identity[2]}")
            raise ValueError(f"servers {seen[identity]} and {i} are the same server ({where}): each "
                             "server must be given once, or one server's vote counts twice toward a quorum")
        seen[identity] = i


def default_max_item_size(timeout: float, n_servers: int) -> int:
    """The largest queue item (bytes) one timeout can carry to every server at ASSUMED_TRANSFER_RATE."""
    return max(1, int(timeout * ASSUMED_TRANSFER_RATE / max(1, n_servers)))


def check_item_size(size: int, limit: int) -> None:
    """ValueError for a queue item larger than `limit` bytes (it could not be stored or fetched in time)."""
    if size > limit:
        raise ValueError(f"the item is {size} bytes, more than the queue's max_item_size of {limit} bytes: "
                         "it could not reach a quorum within the timeout (put would raise NoQuorum although "
                         "it may be stored); store large payloads elsewhere and queue a reference, or set "
                         "queue.max_item_size with a longer MajorityRedis timeout")
