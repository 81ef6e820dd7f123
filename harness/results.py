"""results.json of a run: counts, throughput, latency quantiles, fault windows, verdicts,
expect/passed, status, exit code (schema in docs/design.md, "Results of a run").

Pure functions of the recorded events and the verdicts (`summarize`, `outcome`,
`build_results`), plus an atomic writer: the file is written to a temporary name and
renamed, so a reader never sees half a results.json.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness import exitcodes
from harness.exitcodes import Validity
from harness.history.events import Event, nemesis_events, pair_operations

QUANTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
INTERRUPTED = 130  # exit code after Ctrl-C (128 + SIGINT)
TERMINATED = 143   # exit code after SIGTERM (128 + SIGTERM)
ENVIRONMENT_FAILURE = "environment-failure"  # status of a run that did not exercise the system


def quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile of an ascending list (q in [0, 1])."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(events: Iterable[Event], *, workload_seconds: float,
              workload_end_ns: int | None = None) -> dict[str, Any]:
    """Counts per f and type, ops total, throughput of the workload phase, latency, fault windows.

    - counts: {f: {"ok", "fail", "info"}}; an op never completed counts as info;
    - throughput_ops_s: client ops invoked before `workload_end_ns` (all when None) per
      second of the workload phase (the final quiescent phase is not throughput);
    - latency_ms: per f, over ops that completed ok or fail (an info completion is a
      timeout, not a latency), nearest-rank p50/p95/p99 and max, in milliseconds.
    """
    events = list(events)
    ops = pair_operations(events)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"ok": 0, "fail": 0, "info": 0})
    latencies: dict[str, list[float]] = defaultdict(list)
    in_window = 0
    for op in ops:
        counts[op.f][op.type] += 1
        if workload_end_ns is None or op.start < workload_end_ns:
            in_window += 1
        if op.type in ("ok", "fail") and op.complete is not None:
            latencies[op.f].append((op.complete.time - op.invoke.time) / 1e6)
    latency_ms = {}
    for f, values in sorted(latencies.items()):
        values.sort()
        latency_ms[f] = {name: round(quantile(values, q), 3) for name, q in QUANTILES}
        latency_ms[f]["max"] = round(values[-1], 3)
    return {
        "counts": {f: counts[f] for f in sorted(counts)},
        "ops_total": len(ops),
        "throughput_ops_s": round(in_window / workload_seconds, 3) if workload_seconds > 0 else 0.0,
        "latency_ms": latency_ms,
        "faults": fault_windows(events),
    }


def fault_windows(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Nemesis start/stop pairs (same fault_id) as windows in seconds since the run started."""
    windows: dict[Any, dict[str, Any]] = {}
    order: list[Any] = []
    for event in nemesis_events(events):
        value = event.value if isinstance(event.value, Mapping) else {}
        fault_id = value.get("fault_id", event.index)
        phase = value.get("phase")
        if phase == "stop" and fault_id in windows:
            windows[fault_id]["stop_s"] = round(event.time / 1e9, 3)
            continue
        if phase not in ("start", None):
            continue
        details = {k: v for k, v in value.items() if k not in ("phase", "fault_id")}
        windows[fault_id] = {"fault": event.f, "fault_id": fault_id, "start_s": round(event.time / 1e9, 3),
                             "stop_s": None, "value": details}
        order.append(fault_id)
    return [windows[i] for i in order]


def checker_expectations(expect: str | Mapping[str, str], checkers: Iterable[str]) -> dict[str, str]:
    """checker -> "valid" | "invalid" of a per-checker `expect` (a checker it leaves out is
    expected valid); {} for a plain "valid" / "invalid", which judges the combined verdict."""
    if isinstance(expect, str):
        return {}
    return {name: expect.get(name, "valid") for name in dict.fromkeys([*checkers, *expect])}


def outcome(valid: Validity, expect: str | Mapping[str, str], status: str,
            verdicts: Mapping[str, Mapping[str, Any]] | None = None, *,
            interrupt_code: int = INTERRUPTED) -> tuple[bool, int]:
    """(passed, exit code) of a run.

    expect valid: passed when valid is true; exit 0/1/2 for true/false/unknown.
    expect invalid: passed when valid is false (the known anomaly was found) -> exit 0;
    a true verdict means the demonstration failed -> exit 1; unknown -> 2.
    expect {checker: valid|invalid}: each checker is judged against its own expectation
    (see `checker_expectations`): passed (exit 0) when every one met it; exit 1 when some
    checker decided against its expectation; else exit 2 (some verdict unknown or missing).
    A run whose environment failed never passes and exits 4; an interrupted run never
    passes and exits `interrupt_code` (130 after Ctrl-C, 143 after SIGTERM).
    """
    if status == ENVIRONMENT_FAILURE:
        return False, exitcodes.ENVIRONMENT
    if not isinstance(expect, str):
        verdicts = verdicts or {}
        judged = [(verdicts.get(name, {}).get("valid", "unknown"), wanted == "valid")
                  for name, wanted in checker_expectations(expect, verdicts).items()]
        missed = any(isinstance(v, bool) and v != wanted for v, wanted in judged)
        undecided = any(not isinstance(v, bool) for v, _ in judged)
        passed = not missed and not undecided and valid != "unknown"
        code = exitcodes.VALID if passed else (exitcodes.INVALID if missed else exitcodes.UNKNOWN)
    elif expect == "invalid":
        passed = valid is False
        code = exitcodes.VALID if passed else (exitcodes.INVALID if valid is True else exitcodes.UNKNOWN)
    else:
        passed = valid is True
        code = exitcodes.exit_code_for(valid)
    if status != "complete":
        return False, interrupt_code
    return passed, code


def build_results(*, name: str, scenario_file: str, seed: int, started_at: str, duration_s: float,
                  status: str, expect: str | Mapping[str, str], verdicts: Mapping[str, Mapping[str, Any]],
                  summary: Mapping[str, Any], workload: str, clients: int, nodes: int,
                  extra: Mapping[str, Any] | None = None, environment_problem: str | None = None,
                  unknown_reason: str | None = None, interrupt_code: int = INTERRUPTED,
                  reason: str | None = None) -> dict[str, Any]:
    """The results.json document (verdicts are Verdict.to_json() dicts, by checker name).

    `environment_problem` (harness.run_health): the run did not exercise the system —
    status "environment-failure", exit 4, and valid is never true (false only if a checker
    did find an anomaly in what was recorded). `unknown_reason`: a true verdict is not to
    be trusted (too many unknown outcomes) — valid becomes "unknown". `reason` says why
    in results.json (the first of those two, or e.g. which signal interrupted the run).
    """
    valid: Validity = exitcodes.combine([v.get("valid", "unknown") for v in verdicts.values()]) \
        if status == "complete" else "unknown"
    if status == "complete" and not verdicts:
        valid = "unknown"
    if status == "complete" and environment_problem:
        status, reason = ENVIRONMENT_FAILURE, environment_problem
        valid = False if valid is False else "unknown"
    elif status == "complete" and unknown_reason and valid is True:
        valid, reason = "unknown", unknown_reason
    passed, code = outcome(valid, expect, status, verdicts, interrupt_code=interrupt_code)
    results: dict[str, Any] = {
        "name": name, "scenario_file": scenario_file, "seed": seed, "started_at": started_at,
        "duration_s": round(duration_s, 3), "status": status, "reason": reason, "valid": valid,
        "expect": expect if isinstance(expect, str) else dict(expect),
        "passed": passed, "exit_code": code, "checkers": dict(verdicts),
        **{k: summary[k] for k in ("counts", "ops_total", "throughput_ops_s", "latency_ms", "faults")},
        "workload": workload, "clients": clients, "nodes": nodes,
    }
    if extra:
        results.update(extra)
    return results


def write_json_atomic(path: Path, document: Mapping[str, Any]) -> None:
    """Write JSON to `path` through a temporary file and a rename (never half a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, default=str)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def point_latest(results_dir: Path, run_dir: Path) -> None:
    """results/latest -> run_dir (relative), replaced atomically."""
    link = results_dir / "latest"
    tmp = results_dir / ".latest.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(run_dir, results_dir), tmp)
    os.replace(tmp, link)
