"""Realistic run folders for tests of the analysis, the report and the notebooks.

`write_run_folder(base, ...)` simulates a seeded lock (or register) workload under a nemesis and
writes what the runner writes (docs/design.md, "Results of a run"): history.jsonl with
paired client ops and nemesis start/stop events, results.json with verdicts and anomalies that point
at real event indices, scenario.yaml and run.log. With `valid=False` it injects one split-brain (two
overlapping holds during the partition, or a stale register read) and the verdicts say so.

The simulation is deliberately simple — it is test data, not a model of the library — but its
histories obey the format's rules: one op in flight per process, a process never invokes again
after an `info`, times are monotonic integer nanoseconds.
"""

from __future__ import annotations

import heapq
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MS = 1_000_000  # ns


@dataclass(frozen=True, slots=True)
class FaultSpec:
    fault: str
    start_s: float
    stop_s: float | None  # None: never stopped (an incomplete run)
    details: dict[str, Any]


DEFAULT_FAULTS = (
    FaultSpec("partition-halves", 3.0, 6.0, {"isolated": ["n1", "n2"]}),
    FaultSpec("kill", 8.0, 9.5, {"nodes": ["n3"]}),
)


class _History:
    """Collects events, then orders them by time and numbers them."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, time_ns: int, process: Any, type_: str, f: str, value: Any = None,
            key: Any = None) -> dict[str, Any]:
        event = {"time": int(time_ns), "process": process, "type": type_, "f": f, "value": value}
        if key is not None:
            event["key"] = key
        event["_seq"] = len(self.events)
        self.events.append(event)
        return event

    def finish(self) -> list[dict[str, Any]]:
        self.events.sort(key=lambda e: (e["time"], e["_seq"]))
        for index, event in enumerate(self.events):
            event["index"] = index
            del event["_seq"]
        return [{"index": e["index"], "time": e["time"], "process": e["process"], "type": e["type"],
                 "f": e["f"], **({"key": e["key"]} if "key" in e else {}), "value": e["value"]}
                for e in self.events]


def _in_fault(t_ns: int, faults: tuple[FaultSpec, ...], kind: str | None = None) -> bool:
    t = t_ns / 1e9
    return any((kind is None or f.fault == kind) and f.start_s <= t < (f.stop_s or 1e18)
               for f in faults)


def _simulate_lock(history: _History, rng: random.Random, *, clients: int, duration_s: float,
                   faults: tuple[FaultSpec, ...], inject: bool, think_ms: float) -> dict[str, Any]:
    """Workers acquire/use/release one lock; returns the events the anomalies point at."""
    end = int(duration_s * 1e9)
    queue = [(int(rng.uniform(0, 5) * MS), worker) for worker in range(clients)]
    heapq.heapify(queue)
    process_of = list(range(clients))
    next_process = clients
    held_until = 0
    token = 0
    injected: dict[str, Any] = {}
    last_hold: dict[str, Any] = {}
    while queue:
        t, worker = heapq.heappop(queue)
        if t >= end:
            continue
        process = process_of[worker]
        partitioned = _in_fault(t, faults, "partition-halves")
        killed = _in_fault(t, faults, "kill")
        latency = int(rng.lognormvariate(0.7, 0.4) * MS * (3 if killed else 1))
        history.add(t, process, "invoke", "acquire", None, "L")
        if partitioned and rng.random() < 0.3:  # timeout: unknown outcome, new process id
            history.add(t + 500 * MS, process, "info", "acquire", None, "L")
            process_of[worker] = next_process
            next_process += 1
            heapq.heappush(queue, (t + 500 * MS + int(rng.uniform(1, 20) * MS), worker))
            continue
        done = t + latency
        split_brain = inject and partitioned and not injected and held_until > done and bool(last_hold)
        if held_until > done and not split_brain:
            history.add(done, process, "fail", "acquire", None, "L")
            heapq.heappush(queue, (done + int(rng.uniform(think_ms / 2, think_ms * 1.5) * MS), worker))
            continue
        token += 1
        acquired = history.add(done, process, "ok", "acquire", {"token": token, "validity_ms": 4900}, "L")
        use_start = done + int(0.2 * MS)
        use_end = use_start + 50 * MS
        use = history.add(use_start, process, "invoke", "use", {"token": token, "resource": "R"}, "L")
        history.add(use_end, process, "ok", "use", {"token": token}, "L")
        release_end = use_end + int(rng.uniform(1, 3) * MS)
        history.add(use_end + int(0.1 * MS), process, "invoke", "release", {"token": token}, "L")
        history.add(release_end, process, "ok", "release", None, "L")
        if split_brain:  # the current holder is the last hold: holds are otherwise sequential
            injected = {"holder_acquired": last_hold["acquired"], "holder_use": last_hold["use"],
                        "acquired": acquired, "use": use, "token": token}
        last_hold = {"acquired": acquired, "use": use}
        held_until = max(held_until, release_end)
        heapq.heappush(queue, (release_end + int(rng.uniform(think_ms / 2, think_ms * 1.5) * MS), worker))
    return injected


def _simulate_register(history: _History, rng: random.Random, *, clients: int, duration_s: float,
                       faults: tuple[FaultSpec, ...], inject: bool, think_ms: float) -> dict[str, Any]:
    """Workers read and write registers k0/k1 sequentially (never concurrently, so it linearizes);
    with inject, one read during the partition returns the value before the last write."""
    end = int(duration_s * 1e9)
    t = 0
    values = {"k0": None, "k1": None}
    previous = {"k0": None, "k1": None}
    next_value = 1
    injected: dict[str, Any] = {}
    per_key: dict[str, list[int]] = {"k0": [], "k1": []}
    while t < end:
        process = rng.randrange(clients)
        key = rng.choice(["k0", "k1"])
        latency = int(rng.lognormvariate(0.5, 0.4) * MS)
        if rng.random() < 0.4:
            invoke = history.add(t, process, "invoke", "write", next_value, key)
            complete = history.add(t + latency, process, "ok", "write", next_value, key)
            previous[key], values[key] = values[key], next_value
            next_value += 1
        else:
            stale = (inject and not injected and _in_fault(t, faults, "partition-halves")
                     and previous[key] is not None)
            result = previous[key] if stale else values[key]
            invoke = history.add(t, process, "invoke", "read", None, key)
            complete = history.add(t + latency, process, "ok", "read", result, key)
            if stale:
                injected = {"key": key, "prefix": list(per_key[key]), "invoke": invoke,
                            "complete": complete, "value": result, "current": values[key]}
        per_key[key] += [id(invoke), id(complete)]
        t += latency + int(rng.uniform(think_ms / 2, think_ms * 1.5) * MS)
    injected["_ids"] = per_key
    return injected


def _add_faults(history: _History, faults: tuple[FaultSpec, ...]) -> None:
    for fault_id, fault in enumerate(faults):
        history.add(int(fault.start_s * 1e9), "nemesis", "info", fault.fault,
                    {"phase": "start", "fault_id": fault_id, **fault.details})
        if fault.stop_s is not None:
            history.add(int(fault.stop_s * 1e9), "nemesis", "info", fault.fault,
                        {"phase": "stop", "fault_id": fault_id})


def _pair(events: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    open_ops: dict[Any, dict[str, Any]] = {}
    pairs: list[list[Any]] = []
    slot: dict[int, int] = {}
    for event in events:
        if event["process"] == "nemesis":
            continue
        if event["type"] == "invoke":
            open_ops[event["process"]] = event
            slot[event["index"]] = len(pairs)
            pairs.append([event, None])
        else:
            invoke = open_ops.pop(event["process"])
            pairs[slot[invoke["index"]]][1] = event
    return [(a, b) for a, b in pairs]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _stats(events: list[dict[str, Any]], duration_s: float) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    latencies: dict[str, list[float]] = {}
    for invoke, complete in _pair(events):
        outcome = complete["type"] if complete else "info"
        counts.setdefault(invoke["f"], {"ok": 0, "fail": 0, "info": 0})[outcome] += 1
        if complete and outcome != "info":
            latencies.setdefault(invoke["f"], []).append((complete["time"] - invoke["time"]) / MS)
    total = sum(sum(c.values()) for c in counts.values())
    latency = {f: {"p50": _quantile(v, 0.5), "p95": _quantile(v, 0.95), "p99": _quantile(v, 0.99),
                   "max": max(v)} for f, v in latencies.items()}
    return {"counts": counts, "ops_total": total,
            "throughput_ops_s": round(total / duration_s, 2), "latency_ms": latency}


def _verdict(checker: str, anomalies: list[dict[str, Any]], stats: dict[str, Any] | None = None,
             warnings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"checker": checker, "valid": not anomalies, "anomalies": anomalies,
            "warnings": warnings or [], "stats": stats or {}, "elapsed_s": 0.012}


def write_run_folder(base: Path, *, name: str = "partition", workload: str = "lock", seed: int = 1,
                     clients: int = 5, duration_s: float = 12.0, think_ms: float = 20.0,
                     started_at: str = "2026-11-26T06:00:00Z", valid: bool = False,
                     faults: tuple[FaultSpec, ...] = DEFAULT_FAULTS, with_latency: bool = True,
                     status: str = "complete", expect: str = "valid") -> Path:
    """Write `base/<name>-<stamp>/` and return it. valid=False injects one anomaly."""
    rng = random.Random(seed)
    stamp = started_at.replace("-", "").replace(":", "")
    folder = Path(base) / f"{name}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    history = _History()
    _add_faults(history, faults)
    simulate = {"lock": _simulate_lock, "register": _simulate_register}[workload]
    injected = simulate(history, rng, clients=clients, duration_s=duration_s, faults=faults,
                        inject=not valid, think_ms=think_ms)
    raw_ids = {id(e): e for e in history.events}
    events = history.finish()
    index_of = {id_: raw_ids[id_]["index"] for id_ in raw_ids}

    checkers: dict[str, Any]
    if workload == "lock":
        anomalies, resource = [], []
        if injected:
            a, b = injected["holder_acquired"]["index"], injected["acquired"]["index"]
            anomalies.append({"kind": "overlapping-holds",
                              "message": f"two holds of lock L overlap: token {injected['token'] - 1}"
                                         f" and token {injected['token']}",
                              "indices": [a, b], "details": {"key": "L"}})
            resource.append({"kind": "concurrent-use",
                             "message": "two ok uses of resource R by different holds overlap",
                             "indices": [injected["holder_use"]["index"], injected["use"]["index"]],
                             "details": {"resource": "R"}})
        info_warning = [{"kind": "unknown-outcome", "message": "acquire ops with unknown outcome "
                         "were assumed to have taken effect", "indices": [], "details": {}}]
        checkers = {"mutex-graph": _verdict("mutex-graph", anomalies, {"holds": 42}, info_warning),
                    "fencing": _verdict("fencing", []),
                    "resource": _verdict("resource", resource)}
    else:
        anomalies = []
        if "key" in injected:
            prefix = [index_of[i] for i in injected["prefix"]]
            cannot = [injected["invoke"]["index"], injected["complete"]["index"]]
            anomalies.append({
                "kind": "nonlinearizable",
                "message": f"key {injected['key']}: read {injected['value']} cannot be linearized",
                "indices": cannot,
                "details": {"key": injected["key"], "prefix": prefix, "cannot_linearize": cannot,
                            "explanation": f"after the prefix the register holds {injected['current']};"
                                           f"\nread -> {injected['value']} is not a possible result"}})
        checkers = {"register": _verdict("register", anomalies, {"keys": 2})}

    combined = all(v["valid"] for v in checkers.values())
    stats = _stats(events, duration_s)
    if not with_latency:
        stats.pop("latency_ms")
    passed = combined if expect == "valid" else not combined
    results = {
        "name": name, "scenario_file": f"scenarios/{name}.yaml", "seed": seed,
        "started_at": started_at, "duration_s": duration_s, "status": status,
        "valid": combined, "expect": expect, "passed": passed, "exit_code": 0 if passed else 1,
        "checkers": checkers, **stats,
        "faults": [{"fault": f.fault, "fault_id": i, "start_s": f.start_s, "stop_s": f.stop_s,
                    "value": f.details} for i, f in enumerate(faults)],
        "workload": workload, "clients": clients, "nodes": 5,
    }
    with open(folder / "history.jsonl", "w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event) + "\n")
    (folder / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    scenario = {"name": name, "seed": seed, "duration": duration_s, "expect": expect,
                "cluster": {"nodes": 5}, "workload": {"name": workload, "clients": clients},
                "nemesis": {"schedule": [{"fault": f.fault, "start": f.start_s,
                                          "duration": (f.stop_s or duration_s) - f.start_s}
                                         for f in faults]}}
    (folder / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    (folder / "run.log").write_text(f"run {name} seed {seed}: {status}\n", encoding="utf-8")
    return folder


def write_results_tree(base: Path, *, link_latest: bool = True) -> list[Path]:
    """A results/ folder with three runs of two scenarios (oldest first) and a `latest` symlink."""
    runs = [
        write_run_folder(base, name="partition", seed=1, started_at="2026-11-26T05:00:00Z", valid=True),
        write_run_folder(base, name="register-partition", workload="register", seed=2,
                         started_at="2026-11-26T05:30:00Z", valid=False, expect="invalid"),
        write_run_folder(base, name="partition", seed=3, started_at="2026-11-26T06:00:00Z", valid=False),
    ]
    if link_latest:
        (base / "latest").symlink_to(runs[-1].name)
    return runs
