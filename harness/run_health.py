"""Did a run really exercise the system? Pure judgements made before its verdict is believed.

A checker's "valid" means "no anomaly in what was recorded"; it says nothing when
nothing was recorded. So a run is judged only if:

- no client worker died of an exception (`worker_errors`);
- at least one workload-phase client op completed `ok` (a run of only `fail` — e.g.
  connection refused — and `info` — unknown outcome — ops tested nothing);
- no server log reports a resource failure (`scan_logs`: toxiproxy or redis-server
  out of file descriptors, memory or disk) — such errors are not injected faults.

Any of these is an *environment failure*: status "environment-failure", exit 4,
never "valid". Beyond them, `info_outside_faults` measures the share of ops whose
outcome is unknown although no fault was active; above the scenario's
`max_info_share` the system was not really exercised either (a checker accepts
almost anything from `info` ops), and a "valid" verdict becomes "unknown" (exit 2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.history.events import Op

# After a fault window stops, its effects linger for a while (clients reconnect, a restarted
# node loads its data): ops invoked within this many seconds of a stop still count as in the window.
FAULT_GRACE_S = 2.0

# Lines of a server log that mean the environment, not an injected fault, broke the run.
RESOURCE_FAILURES = re.compile(
    r"too many open files|max number of clients reached|cannot allocate memory|out of memory|"
    r"no space left on device", re.IGNORECASE)

MAX_LOG_BYTES = 64 * 1024 * 1024  # a log larger than this is scanned up to here


@dataclass(frozen=True, slots=True)
class InfoShare:
    """Client ops invoked outside every fault window (plus grace), and how many of them were info."""

    info: int
    ops: int

    @property
    def share(self) -> float:
        return self.info / self.ops if self.ops else 0.0

    def to_json(self, limit: float) -> dict[str, Any]:
        return {"info": self.info, "ops": self.ops, "share": round(self.share, 4), "max_info_share": limit}


def info_outside_faults(ops: Iterable[Op], windows: Sequence[Mapping[str, Any]], *,
                        grace_s: float = FAULT_GRACE_S) -> InfoShare:
    """Count the ops invoked outside every fault window (a window without a stop lasts to the end)."""
    spans = [(float(w["start_s"]), None if w.get("stop_s") is None else float(w["stop_s"]) + grace_s)
             for w in windows]
    info = total = 0
    for op in ops:
        start_s = op.start / 1e9
        if any(start_s >= begin and (end is None or start_s <= end) for begin, end in spans):
            continue
        total += 1
        info += op.type == "info"
    return InfoShare(info, total)


def environment_problem(*, worker_errors: Sequence[str], workload_ops: Sequence[Op],
                        log_problems: Sequence[str]) -> str | None:
    """Why the run did not exercise the system (an environment failure), or None."""
    if worker_errors:
        more = f" (and {len(worker_errors) - 1} more)" if len(worker_errors) > 1 else ""
        return f"{len(worker_errors)} client worker(s) died of an exception: {worker_errors[0]}{more}"
    if log_problems:
        return "the environment failed (not an injected fault): " + "; ".join(log_problems)
    if not any(op.type == "ok" for op in workload_ops):
        failed = sum(1 for op in workload_ops if op.type == "fail")
        return (f"no client operation completed ok during the workload ({len(workload_ops)} invoked: "
                f"{failed} failed, {len(workload_ops) - failed} with an unknown outcome): nothing was tested")
    return None


def info_share_problem(share: InfoShare, limit: float) -> str | None:
    """Why a "valid" verdict cannot be trusted because too many outcomes are unknown, or None."""
    if share.ops and share.share > limit:
        return (f"{share.info} of {share.ops} client ops outside fault windows ({share.share:.0%}) have an "
                f"unknown outcome (info), more than max_info_share {limit:g}: the system was not really "
                "exercised (overloaded machine, too short timeouts, or an environment problem)")
    return None


def scan_logs(run_dir: Path, *, skip: Iterable[str] = ("run.log",)) -> list[str]:
    """One line per server log under `run_dir` that reports a resource failure: file, count, first line."""
    found = []
    skipped = set(skip)
    for path in sorted(run_dir.rglob("*.log")):
        if path.name in skipped or not path.is_file():
            continue
        try:
            with open(path, "rb") as handle:
                text = handle.read(MAX_LOG_BYTES).decode("utf-8", "replace")
        except OSError:
            continue
        lines = [line for line in text.splitlines() if RESOURCE_FAILURES.search(line)]
        if lines:
            found.append(f"{path.relative_to(run_dir)}: {len(lines)} line(s) like {lines[0].strip()[:160]!r}")
    return found
