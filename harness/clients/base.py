"""The interface through which the lock workload drives any client under test.

    client = open_lock_client(spec, urls, socket_timeout=0.3, mr=mr)
    attempt = client.acquire("lock0", ttl=2.0)      # Attempt(outcome="ok", token=..., validity=...)
    client.pause(); ...; client.resume()           # a client pause (SIGSTOP of a worker)
    client.extend("lock0", ttl=2.0); client.release("lock0"); client.close()

`Attempt.outcome`: "ok" (held / extended / released), "refused" (certainly not),
"unknown" (an error: the lock may be held — the workload records `info`, never `fail`),
"unsupported" (the library has no such op). `token`: a fencing token or None;
`valid_until`: the time.monotonic() instant until which the library says the hold is
valid (CLOCK_MONOTONIC is one clock for every process of the machine, so a worker's
instant needs no conversion), or None (then the workload judges the hold by the ttl it
asked for, counted from the invocation).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

from harness.clients.specs import ClientSpec

Outcome = Literal["ok", "refused", "unknown", "unsupported"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one acquire / extend / release of a client did (see the module docstring)."""

    outcome: Outcome
    token: int | None = None
    valid_until: float | None = None
    error: str | None = None


class LockClient(ABC):
    """One client under test, as one client slot of the workload uses it (not thread-safe)."""

    spec: ClientSpec

    @abstractmethod
    def acquire(self, name: str, ttl: float) -> Attempt:
        """Try once, without waiting, to take lock `name` for `ttl` seconds."""

    @abstractmethod
    def extend(self, name: str, ttl: float) -> Attempt:
        """Prolong the hold of `name` (outcome "unsupported" when the library cannot)."""

    @abstractmethod
    def release(self, name: str) -> Attempt:
        """Give `name` up."""

    def launch(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Begin getting ready without waiting (several clients start at once); connect() finishes."""

    def connect(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Get ready before the first op (start a worker); a failure here is left for the
        first op to report (as an "unknown" outcome), so this never raises."""

    def pause(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Start a client pause (a stop-the-world GC pause): nothing of the client runs."""

    def resume(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """End the client pause."""

    def describe(self) -> dict[str, Any]:
        """What results.json records about the client (name, version, promises)."""
        return describe_spec(self.spec)

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release resources (connections, the worker process)."""

    def __enter__(self) -> "LockClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def describe_spec(spec: ClientSpec) -> dict[str, Any]:
    """results.json `client`: name, package, version, scope, fencing_tokens, validity, extend."""
    return {"name": spec.name, "package": spec.package, "version": spec.version, "scope": spec.scope,
            "fencing_tokens": spec.fencing_tokens,
            "validity": "reported" if spec.reports_validity else "requested ttl",
            "extend": spec.extend}
