"""List the runs in a results folder, newest first: name, time, verdicts, ops, faults.

Reads each run's results.json only (histories are not loaded). Exit 0; 3 when the folder is missing.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness import exitcodes
from harness.analysis import format_validity, load_runs

_HEADERS = ("run", "started (UTC)", "status", "valid", "passed", "verdicts", "ops", "faults")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", metavar="DIR", type=Path, nargs="?", default=Path("results"),
                        help="the results folder (default: results)")


def _cell(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return "-"
    return str(value)


def table_rows(runs: pd.DataFrame) -> list[tuple[str, ...]]:
    """One tuple of cell texts per run, in the order of `runs` (load_runs: newest first)."""
    rows: list[tuple[str, ...]] = []
    for run in runs.itertuples(index=False):
        started = run.started_at.strftime("%Y-%m-%d %H:%M:%S") if not pd.isna(run.started_at) else "-"
        passed = {True: "yes", False: "NO"}.get(run.passed, "-") if isinstance(run.passed, bool) else "-"
        rows.append((run.run, started, _cell(run.status), format_validity(run.valid), passed,
                     run.verdicts or "-", _cell(run.ops_total), run.faults or "-"))
    return rows


def format_table(rows: Sequence[Sequence[str]], headers: Sequence[str] = _HEADERS) -> str:
    """A plain text table with columns padded to their widest cell."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip()
             for line in [headers, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def execute(args: argparse.Namespace) -> int:
    runs = load_runs(args.results_dir)
    if runs.empty:
        print(f"no runs in {args.results_dir}/ (run one with: python -m harness run scenarios/partition.yaml)")
        return exitcodes.VALID
    print(format_table(table_rows(runs)))
    return exitcodes.VALID
