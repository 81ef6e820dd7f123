"""The cost of each fault in latency: per fault window and operation, p50/p99 of ok and fail
completions beside the same figures with no fault active.

An op belongs to every fault window it overlaps (the history's `fault_ids`: from invocation to
completion) and to "no fault" when it overlaps none. Only completions count: ok and fail ops
(an info op's latency is the client's timeout, not the system's). A figure under a fault is
shown with its ratio to the no-fault figure of the same op and outcome, so "release p50
×227 during partition-node n3" reads at a glance.
"""

from __future__ import annotations

import math
from html import escape

import pandas as pd

NO_FAULT = "no fault"
OUTCOMES = ("ok", "fail")
COLUMNS = ["window", "fault_id", "f", "ok_n", "ok_p50", "ok_p99", "fail_n", "fail_p50", "fail_p99"]


def _figures(ops: pd.DataFrame) -> dict[str, float]:
    """n, p50 and p99 (ms) of the ok and of the fail completions among `ops`."""
    figures: dict[str, float] = {}
    for outcome in OUTCOMES:
        latency = ops.loc[ops["type"] == outcome, "latency_ms"].dropna()
        figures[f"{outcome}_n"] = len(latency)
        figures[f"{outcome}_p50"] = float(latency.quantile(0.5)) if len(latency) else math.nan
        figures[f"{outcome}_p99"] = float(latency.quantile(0.99)) if len(latency) else math.nan
    return figures


def fault_latency(history: pd.DataFrame, faults: pd.DataFrame) -> pd.DataFrame:
    """One row per (window, f): "no fault" first, then each fault window in start order.

    `history` is analysis.load_history's frame (needs f, type, latency_ms, fault_ids);
    `faults` is analysis.fault_windows's (fault_id, label, start_s). An op of f that did not
    run in a window gives no row for that window (n would be 0 for both outcomes).
    """
    rows: list[dict[str, object]] = []
    if history.empty:
        return pd.DataFrame(columns=COLUMNS)
    fault_ids = history["fault_ids"].map(lambda ids: set(ids) if ids else set())
    calm = history[fault_ids.map(len) == 0]
    for f, ops in calm.groupby("f", sort=True):
        rows.append({"window": NO_FAULT, "fault_id": None, "f": f, **_figures(ops)})
    ordered = faults.sort_values("start_s", kind="stable") if len(faults) else faults
    for window in ordered.itertuples(index=False):
        during = history[fault_ids.map(lambda ids, wid=window.fault_id: wid in ids)]
        for f, ops in during.groupby("f", sort=True):
            rows.append({"window": window.label, "fault_id": window.fault_id, "f": f, **_figures(ops)})
    return pd.DataFrame(rows, columns=COLUMNS)


def ratio(value: float, baseline: float) -> float:
    """value / baseline, NaN when either is missing or the baseline is 0."""
    if math.isnan(value) or math.isnan(baseline) or baseline <= 0:
        return math.nan
    return value / baseline


def _cell(value: float, baseline: float | None) -> str:
    if math.isnan(value):
        return "<td>–</td>"
    text = f"{value:.1f}"
    if baseline is not None:
        factor = ratio(value, baseline)
        if not math.isnan(factor):
            css = " class=slower" if factor >= 2 else ""
            text += f" <span{css}>×{factor:.1f}</span>"
    return f"<td>{text}</td>"


def render(table: pd.DataFrame) -> str:
    """The table as HTML: each figure under a fault with its ratio to the no-fault figure."""
    if table.empty:
        return "<p>No completed operations to measure.</p>"
    calm = {row.f: row for row in table[table["window"] == NO_FAULT].itertuples(index=False)}
    head = ("<thead><tr><th>window</th><th>f</th><th>ok n</th><th>ok p50 ms</th><th>ok p99 ms</th>"
            "<th>fail n</th><th>fail p50 ms</th><th>fail p99 ms</th></tr></thead>")
    body = []
    for row in table.itertuples(index=False):
        base = calm.get(row.f) if row.window != NO_FAULT else None
        cells = [f"<td>{escape(str(row.window))}</td>", f"<td>{escape(str(row.f))}</td>"]
        for outcome in OUTCOMES:
            cells.append(f"<td>{int(getattr(row, f'{outcome}_n'))}</td>")
            for q in ("p50", "p99"):
                baseline = getattr(base, f"{outcome}_{q}") if base is not None else None
                cells.append(_cell(getattr(row, f"{outcome}_{q}"), baseline))
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<table class="counts" id="fault-latency">{head}<tbody>{"".join(body)}</tbody></table>'
            '<div class="meta">Latency of completed ops (ok, fail) per fault window they overlap, '
            "beside the same op with no fault active (×: ratio to it).</div>")
