"""The data behind the report's interactive timeline, as compact column-wise JSON.

The browser draws the timeline on a canvas from this payload (timeline.js), so a history of tens
of thousands of ops costs tens of bytes per op rather than a DOM element each. Shape:

    {"end_ms": float, "lanes": [{"label", "processes"}], "fs": [...], "keys": [...],
     "ops": columns of small integers, see `encode_ops`,
     "faults": [{"id", "kind", "label", "s", "e", "stopped", "colour"}],
     "anomalies": [{"checker", "severity", "kind", "message", "key", "ops", "prefix", "cannot",
                    "prefix_total", "explanation"}],
     "omitted_anomalies": int, "colours": {...}}
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from harness.analysis import Run, anomaly_table, history_end_s
from harness.report.style import OUTCOME_COLOURS, fault_colours

MAX_LANES = 40            # more processes than this are packed into shared lanes
MAX_ANOMALIES = 300       # per report; the rest are counted, not listed
MAX_PREFIX_OPS = 2000     # linearized-prefix ops highlighted per anomaly (the latest ones)
MAX_TEXT = 48             # characters of value -> result text per op
MAX_EXPLANATION = 4000
MAX_DESCRIBED_OPS = 100_000  # beyond this, bars carry no value text (keeps the page small)
_TYPE_CODES = {"ok": 0, "fail": 1, "info": 2}


def brief(value: Any, limit: int = MAX_TEXT) -> str:
    """A short human text for an op's value: dicts as k=v, None as nothing."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        text = " ".join(f"{k}={brief(v, limit)}" for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        text = "[" + " ".join(brief(v, limit) for v in value) + "]"
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(value: Any, result: Any) -> str:
    """'argument → result' in short, e.g. '→ token=7 validity_ms=4900' or 'token=5'.

    The outcome (ok/fail/info) is not repeated: the bar's colour and the lists show it.
    """
    argument, answer = brief(value), brief(result)
    return f"{argument} → {answer}".strip() if answer else argument


def _process_order(process: Any) -> tuple[int, Any]:
    return (0, process) if isinstance(process, int) else (1, str(process))


def assign_lanes(history: pd.DataFrame, end_s: float,
                 max_lanes: int = MAX_LANES) -> tuple[dict[Any, int], list[dict[str, Any]]]:
    """process -> lane. One lane per process; beyond max_lanes processes (workers that continue
    under a new id after an info), a process reuses the first lane whose previous process had
    finished (its last op completed) before this one's first invocation, like Jepsen's threads."""
    if history.empty:
        return {}, []
    spans = history.groupby("process", sort=False).agg(first=("invoke_s", "min"),
                                                        last=("complete_s", "max"),
                                                        open=("complete_s", lambda c: c.isna().any()))
    processes = sorted(spans.index, key=_process_order)
    if len(processes) <= max_lanes:
        lanes = {p: i for i, p in enumerate(processes)}
        return lanes, [{"label": f"p{p}" if isinstance(p, int) else str(p), "processes": [p]}
                       for p in processes]
    lane_free: list[float] = []
    members: list[list[Any]] = []
    lanes = {}
    for process in sorted(processes, key=lambda p: (spans.at[p, "first"], _process_order(p))):
        row = spans.loc[process]
        busy_until = end_s if row["open"] or pd.isna(row["last"]) else float(row["last"])
        lane = next((i for i, free in enumerate(lane_free) if free <= row["first"]), None)
        if lane is None:
            lane = len(lane_free)
            lane_free.append(busy_until)
            members.append([])
        lane_free[lane] = busy_until
        members[lane].append(process)
        lanes[process] = lane
    labels = []
    for group in members:
        first = f"p{group[0]}" if isinstance(group[0], int) else str(group[0])
        labels.append({"label": first + (f" +{len(group) - 1}" if len(group) > 1 else ""),
                       "processes": group})
    return lanes, labels


def _text_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def _index_list(values: Any) -> list[int]:
    return [int(v) for v in values]


def _delta(values: list[int]) -> list[int]:
    return [v - p for v, p in zip(values, [0] + values[:-1])]


def encode_ops(history: pd.DataFrame, lanes: Mapping[Any, int], f_code: Mapping[str, int],
               key_code: Mapping[str, int]) -> dict[str, list[Any]]:
    """Ops as columns of small integers (about 25 bytes an op in JSON); timeline.js decodes them.

    s: invoke time in µs as a delta from the previous op's; dur: µs to completion, -1 if none;
    inv: invoke event index as a delta from the previous op's; cmp: completion index minus invoke
    index, 0 if none; d: index into `texts` (value -> result texts, each stored once).
    """
    starts = [int(round(s * 1e6)) for s in history["invoke_s"]]
    durations = [-1 if math.isnan(c) else max(0, int(round(c * 1e6)) - s)
                 for c, s in zip(history["complete_s"], starts)]
    invokes = _index_list(history["invoke_index"])
    completes = [0 if pd.isna(c) else int(c) - i for c, i in zip(history["complete_index"], invokes)]
    texts: dict[str, int] = {}
    if len(history) <= MAX_DESCRIBED_OPS:
        described = [describe(v, r) for v, r in zip(history["value"], history["result"])]
    else:
        described = [""] * len(history)
    return {
        "lane": [lanes[p] for p in history["process"]],
        "s": _delta(starts), "dur": durations,
        "t": [_TYPE_CODES.get(t, 2) for t in history["type"]],
        "f": [f_code[str(f)] for f in history["f"]],
        "k": [key_code[str(k)] for k in history["key"]],
        "inv": _delta(invokes), "cmp": completes,
        "d": [texts.setdefault(text, len(texts)) for text in described],
        "texts": list(texts),
    }


def timeline_data(run: Run, *, max_anomalies: int = MAX_ANOMALIES) -> dict[str, Any]:
    """The payload described in the module docstring."""
    history = run.history
    end_s = max(history_end_s(run.events), 1e-9)
    lanes, lane_labels = assign_lanes(history, end_s)
    fs = sorted(history["f"].astype(str).unique()) if len(history) else []
    keys = sorted({str(k) for k in history["key"]}) if len(history) else []
    f_code = {f: i for i, f in enumerate(fs)}
    key_code = {k: i for i, k in enumerate(keys)}
    ops = encode_ops(history, lanes, f_code, key_code)
    colours = fault_colours(run.faults["fault"]) if len(run.faults) else {}
    faults = [{"id": str(w.fault_id), "kind": w.fault, "label": w.label, "s": _ms(w.start_s),
               "e": _ms(w.stop_s), "stopped": bool(w.stopped), "colour": colours[w.fault]}
              for w in run.faults.itertuples(index=False)]
    table = anomaly_table(run, include_warnings=True)
    table = table.sort_values("severity", key=lambda s: s != "anomaly", kind="stable")
    shown = table.head(max_anomalies)
    anomalies = []
    for row in shown.itertuples(index=False):
        prefix = list(row.prefix_ops)
        anomalies.append({
            "checker": row.checker, "severity": row.severity, "kind": row.kind,
            "message": row.message, "key": _text_or_none(row.key),
            "ops": list(row.ops), "cannot": list(row.cannot_ops),
            "prefix": prefix[-MAX_PREFIX_OPS:], "prefix_total": len(prefix),
            "explanation": (row.explanation or "")[:MAX_EXPLANATION] or None,
        })
    return {"end_ms": _ms(end_s), "lanes": lane_labels, "fs": fs, "keys": keys, "ops": ops,
            "faults": faults, "anomalies": anomalies,
            "omitted_anomalies": int(len(table) - len(shown)), "colours": OUTCOME_COLOURS}


def to_script_json(data: Any) -> str:
    """JSON safe to embed in a <script> element ('</' and '<!--' cannot close or confuse it)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    return text.replace("</", "<\\/").replace("<!--", "\\u003c!--")
