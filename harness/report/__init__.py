"""Pictures of a run folder: report.html (self-contained, with an interactive timeline),
latency.png and rate.png. The runner calls `write_report(run_dir)` after writing results.json;
`python -m harness report RUN_DIR` calls it again on demand."""

from __future__ import annotations

import os
from pathlib import Path

# plots draw on matplotlib's Agg canvas directly (no pyplot), so no display is ever needed
from harness.analysis import load_run
from harness.report.html import render
from harness.report.plots import latency_figure, rate_figure, save_png

REPORT_FILE = "report.html"
LATENCY_FILE = "latency.png"
RATE_FILE = "rate.png"

__all__ = ["write_report", "REPORT_FILE", "LATENCY_FILE", "RATE_FILE"]


def _write_atomically(path: Path, text: str) -> None:
    """A reader (a browser refresh, a CI artifact upload) never sees half a report."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def write_report(run_dir: str | Path) -> list[Path]:
    """Write report.html, latency.png and rate.png into run_dir and return their paths.

    Needs history.jsonl; results.json and scenario.yaml are used when present. Raises
    harness.errors.BadInput when the folder or its history is missing or unreadable.
    """
    folder = Path(run_dir)
    run = load_run(folder)
    title = f"{run.name}: latency of each operation (fault windows shaded)"
    latency_png = save_png(latency_figure(run.history, run.faults, title=title), folder / LATENCY_FILE)
    rate_png = save_png(rate_figure(run.history, run.faults, title=f"{run.name}: throughput over time"),
                        folder / RATE_FILE)
    report = folder / REPORT_FILE
    _write_atomically(report, render(run, latency_png=latency_png, rate_png=rate_png))
    return [report, folder / LATENCY_FILE, folder / RATE_FILE]
