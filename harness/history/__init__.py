"""Histories: events, the operations they form, and the readers of history files.

The recorder that writes `history.jsonl` during a run is `harness.history.recorder`.
"""

from harness.history.events import Event, Op, nemesis_events, pair_operations
from harness.history.readers import parse_history, read_history

__all__ = ["Event", "Op", "nemesis_events", "pair_operations", "parse_history", "read_history"]
