"""matplotlib pictures of a run: latency over time, throughput over time, a static timeline.

Figures are built with `matplotlib.figure.Figure` on the Agg canvas (no pyplot, no display
needed), so reports render on headless CI machines and inside notebooks alike.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter

from harness.report.style import OUTCOME_COLOURS, fault_colours

_MARKERS = {"ok": "o", "fail": "x", "info": "^"}
MAX_LATENCY_PANELS = 6


def _new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def shade_faults(ax, faults: pd.DataFrame, *, label: bool = True) -> None:  # type: ignore[no-untyped-def]
    """Shade each fault window on ax; with label, write its label at the top of the axes."""
    colours = fault_colours(faults["fault"]) if len(faults) else {}
    for window in faults.itertuples(index=False):
        ax.axvspan(window.start_s, window.stop_s, color=colours[window.fault], alpha=0.16, lw=0)
        if label:
            ax.text(window.start_s, 1.0, f" {window.label}", transform=ax.get_xaxis_transform(),
                    va="top", ha="left", fontsize=7.5, color=colours[window.fault], clip_on=True)


def _end_s(history: pd.DataFrame, faults: pd.DataFrame) -> float:
    ends = [history["invoke_s"].max(), history["complete_s"].max(),
            faults["stop_s"].max() if len(faults) else math.nan]
    finite = [e for e in ends if e is not None and not pd.isna(e)]
    return max(finite, default=1.0) or 1.0


def _readable_log_axis(ax, values: pd.Series) -> None:  # type: ignore[no-untyped-def]
    """At least a decade of range and plain numbers (1, 10, 100 rather than 10^2) on a log axis."""
    finite = values.dropna()
    finite = finite[finite > 0]
    if len(finite):
        lo, hi = float(finite.min()), float(finite.max())
        if hi / lo < 10:
            middle = math.sqrt(lo * hi)
            lo, hi = middle / 4, middle * 4
        ax.set_ylim(lo / 1.5, hi * 1.5)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def latency_figure(history: pd.DataFrame, faults: pd.DataFrame, *, title: str = "") -> Figure:
    """Latency of every completed op over time (log scale): one panel per f, coloured by outcome.

    ops with no completion have no latency and are counted in the panel title instead.
    """
    fs = list(history["f"].value_counts().index[:MAX_LATENCY_PANELS]) if len(history) else []
    figure = _new_figure(11, 1.0 + 1.9 * max(1, len(fs)))
    axes = figure.subplots(max(1, len(fs)), 1, sharex=True, squeeze=False)[:, 0]
    if not fs:
        axes[0].text(0.5, 0.5, "no operations in this history", ha="center", va="center",
                     transform=axes[0].transAxes)
    end = _end_s(history, faults)
    for ax, f in zip(axes, fs):
        ops = history[history["f"] == f]
        shade_faults(ax, faults, label=ax is axes[0])
        for outcome in ("ok", "fail", "info"):
            done = ops[(ops["type"] == outcome) & ops["latency_ms"].notna()]
            if len(done):
                ax.scatter(done["invoke_s"], done["latency_ms"].clip(lower=1e-3), s=7 if outcome != "fail" else 10,
                           marker=_MARKERS[outcome], color=OUTCOME_COLOURS[outcome], alpha=0.7,
                           linewidths=0.8 if outcome == "fail" else 0, label=f"{outcome} ({len(done)})",
                           rasterized=True)
        pending = int(ops["latency_ms"].isna().sum())
        ax.set_yscale("log")
        _readable_log_axis(ax, ops["latency_ms"])
        ax.set_ylabel(f"{f}\nlatency (ms)")
        ax.set_xlim(0, end)
        ax.grid(True, which="major", alpha=0.3)
        note = f", {pending} never completed" if pending else ""
        ax.set_title(f"{f}: {len(ops)} ops{note}", fontsize=9, loc="right")
        ax.legend(loc="upper right", fontsize=7.5, markerscale=1.5, framealpha=0.8,
                  bbox_to_anchor=(1.0, 0.88))
    axes[-1].set_xlabel("time since start (s)")
    figure.suptitle(title or "Latency of each operation over time (fault windows shaded)", fontsize=11)
    return figure


def _nice_bin(span_s: float, bins: int = 60) -> float:
    raw = max(span_s / bins, 1e-6)
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def rate_figure(history: pd.DataFrame, faults: pd.DataFrame, *, title: str = "") -> Figure:
    """Throughput over time: ok completions per second for each f, and failed/unknown ops per second."""
    figure = _new_figure(11, 3.6)
    ax = figure.subplots()
    end = _end_s(history, faults)
    width = _nice_bin(end)
    edges = np.arange(0.0, end + width, width)
    shade_faults(ax, faults)
    if len(history):
        when = history["complete_s"].fillna(history["invoke_s"])
        centres = edges[:-1] + width / 2
        seconds = np.clip(np.minimum(edges[1:], end) - edges[:-1], width / 10, None)  # the last bin is short
        for f in history["f"].value_counts().index:
            ok = when[(history["f"] == f) & (history["type"] == "ok")]
            counts, _ = np.histogram(ok, bins=edges)
            ax.plot(centres, counts / seconds, lw=1.3, label=f"{f} ok")
        for outcome, style in (("fail", "--"), ("info", ":")):
            bad = when[history["type"] == outcome]
            if len(bad):
                counts, _ = np.histogram(bad, bins=edges)
                ax.plot(centres, counts / seconds, style, lw=1.3, color=OUTCOME_COLOURS[outcome],
                        label=f"all {outcome}")
        ax.legend(loc="upper right", fontsize=8, ncols=2, framealpha=0.8, bbox_to_anchor=(1.0, 0.9))
    else:
        ax.text(0.5, 0.5, "no operations in this history", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlim(0, end)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel(f"ops/s ({width:g} s bins)")
    ax.grid(True, alpha=0.3)
    figure.suptitle(title or "Throughput over time (fault windows shaded)", fontsize=11)
    return figure


def timeline_figure(history: pd.DataFrame, faults: pd.DataFrame, *, highlight: tuple[int, ...] = (),
                    max_lanes: int = 40, title: str = "") -> Figure:
    """A static timeline for notebooks: a lane per process, a bar per op coloured by outcome.

    `highlight` (op numbers) are outlined in black. Shows at most `max_lanes` processes (those with
    the most ops); the interactive HTML report shows all.
    """
    processes = list(history["process"].value_counts().index[:max_lanes]) if len(history) else []
    processes.sort(key=lambda p: (isinstance(p, str), p if not isinstance(p, str) else 0, str(p)))
    lane = {p: i for i, p in enumerate(processes)}
    figure = _new_figure(11, 1.2 + 0.28 * max(4, len(processes)))
    ax = figure.subplots()
    end = _end_s(history, faults)
    shade_faults(ax, faults)
    chosen = set(highlight)
    for outcome in ("ok", "fail", "info"):
        ops = history[(history["type"] == outcome) & history["process"].isin(lane)]
        for process, group in ops.groupby("process", sort=False):
            stops = group["complete_s"].fillna(end).to_numpy()
            starts = group["invoke_s"].to_numpy()
            spans = list(zip(starts, np.maximum(stops - starts, end * 1e-4)))
            edge = ["black" if op in chosen else "none" for op in group["op"]]
            ax.broken_barh(spans, (lane[process] - 0.38, 0.76), facecolors=OUTCOME_COLOURS[outcome],
                           edgecolors=edge, linewidth=1.2)
    ax.set_yticks(range(len(processes)), [str(p) for p in processes], fontsize=7)
    ax.set_ylim(len(processes) - 0.5, -0.5 - 0.8)
    ax.set_xlim(0, end)
    ax.set_ylabel("process")
    ax.set_xlabel("time since start (s)")
    ax.legend(handles=[Patch(color=c, label=o) for o, c in OUTCOME_COLOURS.items()],
              loc="lower right", fontsize=8, ncols=3)
    figure.suptitle(title or "Timeline: one lane per process, a bar per operation", fontsize=11)
    return figure


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def save_png(figure: Figure, path: Path) -> bytes:
    """Write the figure as PNG to path and return the bytes (for inlining into the HTML)."""
    data = png_bytes(figure)
    Path(path).write_bytes(data)
    return data


def verdicts_figure(runs: pd.DataFrame) -> Figure:
    """Verdicts over time: one row per scenario, a dot per run (green valid, red invalid, grey other)."""
    scenarios = sorted(runs["scenario"].astype(str).unique()) if len(runs) else []
    figure = _new_figure(11, 1.2 + 0.35 * max(3, len(scenarios)))
    ax = figure.subplots()
    colour: dict[bool | None, str] = {True: OUTCOME_COLOURS["ok"], False: OUTCOME_COLOURS["fail"]}
    for valid, label in ((True, "valid"), (False, "invalid"), (None, "unknown / none")):
        chosen = runs[[(v is valid) if valid is not None else not isinstance(v, bool)
                       for v in runs["valid"]]] if len(runs) else runs
        if len(chosen):
            ax.scatter(chosen["started_at"], [scenarios.index(str(s)) for s in chosen["scenario"]],
                       color=colour.get(valid, "#999999"), s=60, label=label, zorder=3)
    ax.set_yticks(range(len(scenarios)), scenarios)
    ax.set_ylim(-0.7, max(len(scenarios), 1) - 0.3)
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_xlabel("run started (UTC)")
    if len(runs):
        ax.legend(loc="upper left", fontsize=8)
    figure.suptitle("Verdicts over time, by scenario", fontsize=11)
    return figure
