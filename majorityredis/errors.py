"""The library's exceptions: one root, one class per failure mode, each carrying its context.

Bad arguments (ttl <= 0, no clients, fewer clients than a quorum) raise
ValueError at once instead: they are programming errors, not outcomes.
"""

from __future__ import annotations

from collections.abc import Mapping


class MajorityRedisError(Exception):
    """Root of every error this library raises on purpose."""


class NoQuorum(MajorityRedisError):
    """Fewer than a quorum of nodes agreed before the deadline.

    The outcome is *unknown*: the operation may have taken effect on some
    nodes (and, for writes, may later become visible through read-repair).
    `errors` maps a node label (``"127.0.0.1:7001"``) to what that node did
    instead of agreeing: an exception, or a refusal such as ``"stale version"``.
    """

    def __init__(self, operation: str, *, quorum: int, n_servers: int, agreed: int,
                 errors: Mapping[str, object]) -> None:
        self.operation = operation
        self.quorum = quorum
        self.n_servers = n_servers
        self.agreed = agreed
        self.errors = dict(errors)
        detail = "; ".join(f"{node}: {_describe(err)}" for node, err in self.errors.items()) or "no replies"
        if any(type(err).__name__ == "AuthenticationError" for err in self.errors.values()):
            advice = "Check the password in the URLs (redis://:password@host:port/db)."
        else:
            advice = "Check that a majority of the Redis servers are up and reachable, or raise the timeout."
        super().__init__(f"{operation}: {agreed} of {n_servers} nodes agreed, a quorum is {quorum} ({detail}). "
                         + advice)


class LockNotAcquired(MajorityRedisError):
    """`with mr.lock(...)` could not acquire the lock in time; the block did not run."""

    def __init__(self, name: str, timeout: float | None) -> None:
        self.name = name
        self.timeout = timeout
        waited = "without waiting" if not timeout else f"within {timeout:g} s"
        super().__init__(f"lock {name!r} was not acquired {waited}; another holder has it or no quorum "
                         "was reachable: retry later or pass a longer timeout")


class LockNotOwned(MajorityRedisError):
    """release/extend was called on a lock (or queue message) this object does not hold."""

    def __init__(self, name: str, detail: str = "") -> None:
        self.name = name
        super().__init__(f"{name!r} is not held by this object{': ' + detail if detail else ''}; "
                         "acquire it first (and check validity() before relying on it)")


def _describe(err: object) -> str:
    if isinstance(err, BaseException):
        return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return str(err)
