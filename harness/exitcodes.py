"""Exit codes of `python -m harness check|run` (the CI gates of docs/design.md)."""

from __future__ import annotations

from typing import Literal, Union

Validity = Union[bool, Literal["unknown"]]

VALID = 0          # valid, or the expected anomaly was found (expect: invalid)
INVALID = 1        # anomalies found: the correctness gate fails
UNKNOWN = 2        # undecided (time limit)
BAD_INPUT = 3      # unreadable history, invalid scenario, unknown model
ENVIRONMENT = 4    # redis-server or toxiproxy-server missing or would not start
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT): a run keeps its history and writes status "incomplete"


def combine(verdicts: list[Validity]) -> Validity:
    """Combine verdicts: false beats "unknown" beats true; no verdicts is true."""
    if any(v is False for v in verdicts):
        return False
    if any(v == "unknown" for v in verdicts):
        return "unknown"
    return True


def exit_code_for(valid: Validity) -> int:
    """The exit code of a single verdict."""
    if valid is True:
        return VALID
    if valid is False:
        return INVALID
    return UNKNOWN


def worst(codes: list[int]) -> int:
    """The worst of several exit codes: environment > bad input > invalid > unknown > valid."""
    order = [VALID, UNKNOWN, INVALID, BAD_INPUT, ENVIRONMENT]
    return max(codes, key=order.index, default=VALID)
