"""Pure quorum arithmetic: how many nodes must agree, and when an outcome is decided."""

from __future__ import annotations

from dataclasses import dataclass


def quorum_size(n_servers: int) -> int:
    """A strict majority of `n_servers`: any two quorums share at least one node."""
    if n_servers < 1:
        raise ValueError(f"n_servers must be >= 1, not {n_servers}")
    return n_servers // 2 + 1


@dataclass(frozen=True, slots=True)
class Tally:
    """Votes so far in one fan-out.

    `agreed` nodes said yes, `refused` said no or failed; the rest of the
    `n_servers` (including servers this client has no connection to) have not
    answered yet. The outcome is decided once a quorum agreed, or once so many
    refused that a quorum can no longer agree.
    """

    n_servers: int
    quorum: int
    agreed: int
    refused: int

    @property
    def undecided(self) -> int:
        return self.n_servers - self.agreed - self.refused

    @property
    def reached(self) -> bool:
        return self.agreed >= self.quorum

    @property
    def impossible(self) -> bool:
        return self.agreed + self.undecided < self.quorum

    @property
    def decided(self) -> bool:
        return self.reached or self.impossible
