"""pandas views of histories and run folders, for reports and notebooks.

- `load_history(path)`: one row per operation (invocation paired with its completion).
- `fault_windows(run_or_events)`: one row per nemesis fault window (start..stop of one fault_id).
- `load_run(dir)`: a run folder as a `Run` (history, fault windows, results.json, scenario.yaml).
- `load_runs("results/")`: one row per run folder, newest first, read from results.json only
  (histories are not loaded, so listing hundreds of runs stays quick).

Times are seconds since the run started (the history's integer nanoseconds / 1e9); latencies are
milliseconds. Any history `harness.history.readers.read_history` understands works, Jepsen EDN
included. Missing optional inputs (no results.json, no latency, an incomplete run) give empty
columns, never errors; unreadable inputs raise `harness.errors.BadInput`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from harness.errors import BadInput

HISTORY_FILE = "history.jsonl"
RESULTS_FILE = "results.json"
SCENARIO_FILE = "scenario.yaml"
NEMESIS = "nemesis"

OP_COLUMNS = ["op", "process", "f", "key", "value", "result", "type", "invoke_index",
              "complete_index", "invoke_s", "complete_s", "latency_ms", "faults", "fault_ids"]
FAULT_COLUMNS = ["fault_id", "fault", "start_s", "stop_s", "duration_s", "stopped", "label",
                 "start_index", "stop_index", "details"]

# a run folder name ends in the UTC start time: partition-20261126T060000Z
_STAMP = re.compile(r"(\d{8}T\d{6}Z)$")


# --------------------------------------------------------------------------- histories

def _events(source: Any) -> list[Any]:
    """Events from a path (history file or run folder) or an already-read sequence of events."""
    if isinstance(source, Run):
        return list(source.events)
    if isinstance(source, (str, Path)):
        from harness.history.readers import read_history

        path = Path(source)
        if path.is_dir():
            path = path / HISTORY_FILE
        if not path.is_file():
            raise BadInput(path, "no such history file")
        return list(read_history(path))
    return list(source)


def _seconds(ns: Any) -> float:
    return float(ns) / 1e9 if ns is not None else math.nan


def history_end_s(events: Sequence[Any]) -> float:
    """The time of the last event, in seconds (0.0 for an empty history)."""
    return max((_seconds(e.time) for e in events), default=0.0)


def load_history(source: str | Path | Sequence[Any]) -> pd.DataFrame:
    """One row per client operation, in invocation order.

    Columns: op (0..n-1), process, f, key, value (the invoke's argument), result (the completion's
    value), type (ok|fail|info; info also when there is no completion), invoke_index and
    complete_index (event indices; <NA> without completion), invoke_s and complete_s (seconds
    since start; NaN without completion), latency_ms (NaN without completion), faults (sorted
    tuple of the fault kinds active at any moment of the op; an op without completion counts as
    running until the end of the history) and fault_ids.
    """
    from harness.history.events import pair_operations

    events = _events(source)
    ops = pair_operations(events)
    rows = []
    for number, op in enumerate(ops):
        complete = op.complete
        invoke_s = _seconds(op.invoke.time)
        complete_s = _seconds(complete.time) if complete is not None else math.nan
        rows.append({
            "op": number, "process": op.process, "f": op.f, "key": op.key, "value": op.value,
            "result": op.result, "type": op.type, "invoke_index": op.invoke.index,
            "complete_index": complete.index if complete is not None else None,
            "invoke_s": invoke_s, "complete_s": complete_s,
            "latency_ms": (complete_s - invoke_s) * 1000.0 if complete is not None else math.nan,
        })
    frame = pd.DataFrame(rows, columns=OP_COLUMNS[:-2])
    for column in ("key", "value", "result"):  # keep None as None and 51 as 51, never NaN / 51.0
        frame[column] = pd.Series([row[column] for row in rows], dtype=object)
    frame["complete_index"] = frame["complete_index"].astype("Int64")
    for column in ("invoke_s", "complete_s", "latency_ms"):
        frame[column] = frame[column].astype(float)
    windows = fault_windows(events)
    frame["faults"], frame["fault_ids"] = _active_faults(frame, windows, history_end_s(events))
    return frame


def _active_faults(ops: pd.DataFrame, windows: pd.DataFrame, end_s: float) -> tuple[list, list]:
    """Per op, the kinds and ids of the fault windows overlapping [invoke, complete or end]."""
    kinds: list[list[str]] = [[] for _ in range(len(ops))]
    ids: list[list[Any]] = [[] for _ in range(len(ops))]
    if len(ops) and len(windows):
        start = ops["invoke_s"].to_numpy(dtype=float)
        stop = ops["complete_s"].fillna(end_s).to_numpy(dtype=float)
        for window in windows.itertuples(index=False):
            for i in np.flatnonzero((start <= window.stop_s) & (stop >= window.start_s)):
                kinds[i].append(window.fault)
                ids[i].append(window.fault_id)
    return ([tuple(sorted(set(k))) for k in kinds], [tuple(i) for i in ids])


# --------------------------------------------------------------------------- fault windows

def _names(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _fault_label(kind: str, details: Mapping[str, Any]) -> str:
    """A short label: the kind plus whom it hit, e.g. 'partition-halves n2,n3 | n1,n4,n5'."""
    groups = details.get("groups")
    if isinstance(groups, list) and all(isinstance(g, Mapping) and "nodes" in g for g in groups):
        return f"{kind} " + " | ".join(_names(g["nodes"]) for g in groups)
    if "client" in details and details.get("isolated_from"):
        return f"{kind} c{details['client']} from {_names(details['isolated_from'])}"
    for name in ("isolated", "nodes", "targets", "node", "clients"):
        if details.get(name) not in (None, [], ""):
            label = f"{kind} {_names(details[name])}"
            for amount, unit in (("latency_ms", "ms"), ("rate_kbs", "KB/s"), ("timeout_ms", "ms"),
                                 ("offset_s", "s"), ("rate", "x")):
                if amount in details:
                    label += f" {details[amount]}{unit}"
            return label
    return str(kind)


def fault_windows(run_or_events: Any) -> pd.DataFrame:
    """One row per fault window, ordered by start.

    A window is the nemesis `start` event and the `stop` event with the same fault_id (our
    history format). Jepsen's nemesis events (`:f :start` / `:stop`, or `start-x` / `stop-x`,
    without fault ids) pair each stop with the oldest open window. A window never stopped lasts
    to the end of the history (stopped=False). Columns: fault_id, fault, start_s, stop_s,
    duration_s, stopped, label, start_index, stop_index, details (the start event's value
    without phase/fault_id, merged with the stop event's).
    """
    events = _events(run_or_events)
    end_s = history_end_s(events)
    open_windows: dict[Any, dict[str, Any]] = {}
    done: list[dict[str, Any]] = []
    auto_id = 0
    for event in events:
        if event.process != NEMESIS or event.type == "invoke":
            continue
        value = event.value if isinstance(event.value, Mapping) else {}
        phase = value.get("phase")
        kind = str(event.f)
        if phase is None:  # Jepsen style: the phase is in f
            if kind == "start" or kind.startswith("start-"):
                phase, kind = "start", kind[len("start-"):] or "nemesis"
            elif kind == "stop" or kind.startswith("stop-"):
                phase, kind = "stop", kind[len("stop-"):] or "nemesis"
            else:
                continue
        details = {k: v for k, v in value.items() if k not in ("phase", "fault_id")}
        if phase == "start":
            fault_id = value.get("fault_id", f"auto-{auto_id}")
            auto_id += 1
            open_windows[fault_id] = {"fault_id": fault_id, "fault": kind,
                                      "start_s": _seconds(event.time), "start_index": event.index,
                                      "details": details}
        elif phase == "stop":
            fault_id = value.get("fault_id")
            if fault_id not in open_windows:  # Jepsen: the oldest open window of that kind
                fault_id = next((k for k, w in open_windows.items()
                                 if w["fault"] == kind or kind == "nemesis"), None)
            if fault_id is None:
                continue
            window = open_windows.pop(fault_id)
            window.update(stop_s=_seconds(event.time), stop_index=event.index, stopped=True,
                          details={**window["details"], **details})
            done.append(window)
    for window in open_windows.values():
        window.update(stop_s=max(end_s, window["start_s"]), stop_index=None, stopped=False)
        done.append(window)
    for window in done:
        window["duration_s"] = window["stop_s"] - window["start_s"]
        window["label"] = _fault_label(window["fault"], window["details"])
    frame = pd.DataFrame(done, columns=FAULT_COLUMNS)
    frame["stop_index"] = frame["stop_index"].astype("Int64")
    frame["start_index"] = frame["start_index"].astype("Int64")
    for column in ("start_s", "stop_s", "duration_s"):
        frame[column] = frame[column].astype(float)
    frame["stopped"] = frame["stopped"].astype(bool)
    return frame.sort_values(["start_s", "start_index"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- run folders

@dataclass(frozen=True, slots=True, eq=False)
class Run:
    """One run folder, loaded. `results` / `scenario` are {} when their file is missing."""

    path: Path
    name: str
    events: tuple[Any, ...]
    history: pd.DataFrame
    faults: pd.DataFrame
    results: Mapping[str, Any] = field(default_factory=dict)
    scenario: Mapping[str, Any] = field(default_factory=dict)

    @property
    def checkers(self) -> Mapping[str, Mapping[str, Any]]:
        """checker name -> its verdict JSON (Verdict.to_json())."""
        checkers = self.results.get("checkers")
        return checkers if isinstance(checkers, Mapping) else {}

    @property
    def valid(self) -> Any:
        """The combined verdict: True, False, "unknown", or None when no verdict was written."""
        return self.results.get("valid")


def read_results(path: str | Path) -> dict[str, Any]:
    """results.json of a run folder as a dict; {} when missing; BadInput when unreadable."""
    file = Path(path)
    if file.is_dir():
        file = file / RESULTS_FILE
    if not file.exists():
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise BadInput(file, f"not valid JSON: {error.msg}", line=error.lineno) from None
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(file, f"cannot read: {error}") from None
    if not isinstance(data, dict):
        raise BadInput(file, "must hold a JSON object")
    return data


def read_scenario(path: str | Path) -> dict[str, Any]:
    """scenario.yaml of a run folder as a dict; {} when missing; BadInput when unreadable."""
    file = Path(path)
    if file.is_dir():
        file = file / SCENARIO_FILE
    if not file.exists():
        return {}
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise BadInput(file, f"not valid YAML: {error}",
                       line=mark.line + 1 if mark is not None else None) from None
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(file, f"cannot read: {error}") from None
    return data if isinstance(data, dict) else {}


def run_name(path: str | Path) -> str:
    """The folder name of a run (results/latest resolves to the run it points at)."""
    return Path(path).resolve().name


def load_run(path: str | Path) -> Run:
    """Load a run folder: history.jsonl (required), results.json and scenario.yaml (optional)."""
    folder = Path(path)
    if not folder.is_dir():
        raise BadInput(folder, "no such run folder (expected a folder holding history.jsonl)")
    history_file = folder / HISTORY_FILE
    if not history_file.is_file():
        raise BadInput(history_file, "missing: not a run folder, or the run never started")
    events = tuple(_events(history_file))
    return Run(path=folder, name=run_name(folder), events=events, history=load_history(events),
               faults=fault_windows(events), results=read_results(folder),
               scenario=read_scenario(folder))


def _started_at(folder: Path, results: Mapping[str, Any]) -> pd.Timestamp:
    text = results.get("started_at")
    if isinstance(text, str):
        try:
            stamp = pd.Timestamp(text)
            return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        except ValueError:
            pass
    match = _STAMP.search(folder.name)
    if match:
        return pd.Timestamp(datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ")
                            .replace(tzinfo=timezone.utc))
    return pd.Timestamp(folder.stat().st_mtime, unit="s", tz="UTC")


def format_validity(valid: Any) -> str:
    """true/false/unknown as results.json spells them; '-' when there is no verdict."""
    if valid is True:
        return "true"
    if valid is False:
        return "false"
    return "-" if valid is None else str(valid)


def _mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one (results.json written by older versions)."""
    return value if isinstance(value, Mapping) else {}


def summarize_faults(faults: Iterable[Mapping[str, Any]]) -> str:
    """'partition-halves x3, kill x1' from results.json's faults list."""
    counts: dict[str, int] = {}
    for fault in faults:
        if isinstance(fault, Mapping):
            kind = str(fault.get("fault", "?"))
            counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{kind} x{n}" for kind, n in counts.items())


RUNS_COLUMNS = ["run", "path", "scenario", "started_at", "seed", "workload", "status", "valid",
                "expect", "passed", "verdicts", "checkers", "anomalies", "ops_total", "counts",
                "ok", "fail", "info", "throughput_ops_s", "duration_s", "faults", "n_faults", "error"]


def run_summary(folder: str | Path) -> dict[str, Any]:
    """One row of `load_runs`: what results.json says about a run (never raises for bad files)."""
    folder = Path(folder)
    try:
        results = read_results(folder)
        status = results.get("status") or ("no results.json" if not results else "-")
        error = None
    except BadInput as problem:
        results, status, error = {}, "unreadable", str(problem)
    checkers: Mapping[str, Any] = _mapping(results.get("checkers"))
    verdicts = {name: (v.get("valid") if isinstance(v, Mapping) else None)
                for name, v in checkers.items()}
    faults: list[Any] = results["faults"] if isinstance(results.get("faults"), list) else []
    anomalies = sum(len(v.get("anomalies") or []) for v in checkers.values() if isinstance(v, Mapping))
    counts: Mapping[str, Any] = _mapping(results.get("counts"))
    totals = {outcome: sum(int(c.get(outcome, 0) or 0) for c in counts.values() if isinstance(c, Mapping))
              for outcome in ("ok", "fail", "info")}
    return {
        "run": folder.name, "path": folder, "scenario": results.get("name", _STAMP.sub("", folder.name).rstrip("-")),
        "started_at": _started_at(folder, results), "seed": results.get("seed"),
        "workload": results.get("workload"), "status": status, "valid": results.get("valid"),
        "expect": results.get("expect"), "passed": results.get("passed"),
        "verdicts": " ".join(f"{n}={format_validity(v)}" for n, v in verdicts.items()),
        "checkers": verdicts, "anomalies": anomalies, "ops_total": results.get("ops_total"),
        "counts": dict(counts), **totals,
        "throughput_ops_s": results.get("throughput_ops_s"), "duration_s": results.get("duration_s"),
        "faults": summarize_faults(faults), "n_faults": len(faults), "error": error,
    }


def load_runs(results_dir: str | Path = "results") -> pd.DataFrame:
    """One row per run folder under results_dir, newest first (symlinks such as `latest` skipped).

    A run folder is a folder holding results.json or history.jsonl. Columns: see RUNS_COLUMNS;
    `checkers` maps checker name -> valid, `verdicts` spells the same as text; `counts` is
    results.json's {f: {ok, fail, info}} and ok / fail / info its totals; a run whose
    results.json cannot be read has status "unreadable" and the reason in `error`.
    """
    base = Path(results_dir)
    if not base.is_dir():
        raise BadInput(base, "no such results folder")
    rows = [run_summary(child) for child in sorted(base.iterdir())
            if child.is_dir() and not child.is_symlink()
            and ((child / RESULTS_FILE).exists() or (child / HISTORY_FILE).exists())]
    frame = pd.DataFrame(rows, columns=RUNS_COLUMNS)
    for column in ("valid", "passed"):  # True / False / "unknown" / None as they are, not numpy bools
        frame[column] = pd.Series([row[column] for row in rows], dtype=object)
    for column in ("ops_total", "seed"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").round().astype("Int64")
    for column in ("throughput_ops_s", "duration_s"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    if len(frame):
        frame = frame.sort_values(["started_at", "run"], ascending=False, kind="stable")
    return frame.reset_index(drop=True)


def locate(path: str | Path) -> Path:
    """A relative path as given, or found in a parent folder of the working directory.

    Notebooks run with the notebook's folder as working directory; this lets their default
    `results/latest` mean the repository's results folder.
    """
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists():
        return candidate
    for parent in Path.cwd().parents:
        if (parent / candidate).exists():
            return parent / candidate
    return candidate


# --------------------------------------------------------------------------- summaries

def latency_quantiles(history: pd.DataFrame) -> pd.DataFrame:
    """Per f: counts of ok/fail/info and latency quantiles (ms) of the ops that completed ok/fail.

    info ops are excluded from latency: their latency is the client's timeout, not the system's.
    """
    columns = ["ok", "fail", "info", "total", "p50", "p95", "p99", "max"]
    if history.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="f"))
    counts = (history.groupby(["f", "type"]).size().unstack(fill_value=0)
              .reindex(columns=["ok", "fail", "info"], fill_value=0))
    counts["total"] = counts.sum(axis=1)
    done = history[history["type"].isin(["ok", "fail"])].dropna(subset=["latency_ms"])
    quantiles = done.groupby("f")["latency_ms"].quantile([0.5, 0.95, 0.99]).unstack()
    quantiles.columns = ["p50", "p95", "p99"]
    quantiles["max"] = done.groupby("f")["latency_ms"].max()
    table = counts.join(quantiles, how="left").reindex(columns=columns)
    table.index.name = "f"
    return table


def availability(history: pd.DataFrame, by: str = "fault") -> pd.DataFrame:
    """Share of ok ops, with counts and latency, grouped by fault kind ('none' = no fault active).

    by="fault": an op running during two faults counts for both; any other column name of the
    history (e.g. "f") groups by that column; extra columns already in `history` (such as `run`
    or `scenario` in a concatenation of runs) can be combined: by=["scenario", "fault"].
    """
    keys = [by] if isinstance(by, str) else list(by)
    frame = history.copy()
    if "fault" in keys:
        frame["fault"] = [list(faults) if faults else ["none"] for faults in frame["faults"]]
        frame = frame.explode("fault")
    columns = ["ops", "ok", "fail", "info", "availability", "p50_ms", "p95_ms"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    grouped = frame.groupby(keys)
    table = grouped["type"].value_counts().unstack(fill_value=0).reindex(
        columns=["ok", "fail", "info"], fill_value=0)
    table.insert(0, "ops", table.sum(axis=1))
    table["availability"] = table["ok"] / table["ops"]
    ok = frame[frame["type"] == "ok"].groupby(keys)["latency_ms"]
    table["p50_ms"] = ok.quantile(0.5)
    table["p95_ms"] = ok.quantile(0.95)
    return table


def fault_impact(history: pd.DataFrame, faults: pd.DataFrame) -> pd.DataFrame:
    """Per fault window: ops, availability, throughput and p50 latency before, during and after.

    "before" and "after" are spans as long as the window itself, right before its start and right
    after its stop; an op belongs to the span its invocation falls in.
    """
    rows = []
    for window in faults.itertuples(index=False):
        length = max(window.duration_s, 1e-9)
        spans = {"before": (window.start_s - length, window.start_s),
                 "during": (window.start_s, window.stop_s),
                 "after": (window.stop_s, window.stop_s + length)}
        for phase, (lo, hi) in spans.items():
            ops = history[(history["invoke_s"] >= lo) & (history["invoke_s"] < hi)]
            ok = ops[ops["type"] == "ok"]
            rows.append({"fault_id": window.fault_id, "fault": window.fault, "label": window.label,
                         "phase": phase, "from_s": lo, "to_s": hi, "ops": len(ops),
                         "availability": len(ok) / len(ops) if len(ops) else math.nan,
                         "ok_per_s": len(ok) / length,
                         "p50_ms": ok["latency_ms"].median() if len(ok) else math.nan})
    return pd.DataFrame(rows, columns=["fault_id", "fault", "label", "phase", "from_s", "to_s",
                                       "ops", "availability", "ok_per_s", "p50_ms"])


def event_to_op(history: pd.DataFrame) -> dict[int, int]:
    """Event index (invoke or completion) -> op number."""
    mapping = {int(i): int(op) for i, op in zip(history["invoke_index"], history["op"])}
    for i, op in zip(history["complete_index"], history["op"]):
        if not pd.isna(i):
            mapping[int(i)] = int(op)
    return mapping


def anomaly_table(run: Run, *, include_warnings: bool = False) -> pd.DataFrame:
    """Every anomaly of every checker: checker, kind, message, key, indices, ops (op numbers).

    Linearizability anomalies also carry `prefix_ops` (the ops that linearized) and
    `cannot_ops` (the op(s) that cannot); other anomalies have empty tuples there.
    """
    to_op = event_to_op(run.history)

    def ops_of(indices: Any) -> tuple[int, ...]:
        found = [to_op.get(int(i)) for i in (indices or []) if isinstance(i, (int, np.integer))]
        return tuple(sorted({op for op in found if op is not None}))

    rows = []
    groups = ("anomalies", "warnings") if include_warnings else ("anomalies",)
    for checker, verdict in run.checkers.items():
        for group in groups:
            for anomaly in verdict.get(group) or []:
                details = anomaly.get("details") or {}
                rows.append({"checker": checker, "severity": group[:-1] if group == "warnings" else "anomaly",
                             "kind": anomaly.get("kind"), "message": anomaly.get("message"),
                             "key": details.get("key"), "indices": tuple(anomaly.get("indices") or ()),
                             "ops": ops_of(anomaly.get("indices")),
                             "prefix_ops": ops_of(details.get("prefix")),
                             "cannot_ops": ops_of(details.get("cannot_linearize")),
                             "explanation": details.get("explanation")})
    return pd.DataFrame(rows, columns=["checker", "severity", "kind", "message", "key", "indices",
                                       "ops", "prefix_ops", "cannot_ops", "explanation"])


def load_histories(runs: pd.DataFrame) -> pd.DataFrame:
    """The histories of the runs listed by `load_runs`, concatenated, with `run` and `scenario`.

    Runs whose history cannot be read are skipped (a listing of many runs should not stop at one
    broken folder).
    """
    frames = []
    for row in runs.itertuples(index=False):
        try:
            history = load_history(Path(row.path) / HISTORY_FILE)
        except BadInput:
            continue
        frames.append(history.assign(run=row.run, scenario=row.scenario))
    if not frames:
        return pd.DataFrame(columns=OP_COLUMNS + ["run", "scenario"])
    return pd.concat(frames, ignore_index=True)
