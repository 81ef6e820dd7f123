"""Compare lock libraries: run each scenario with each client under test, side by side.

    python -m harness compare scenarios/compare/*.yaml --clients all
    python -m harness compare scenarios/compare/partition.yaml --clients majorityredis,pottery --duration 10

Each (scenario, client) is one ordinary run (results/<scenario>-<client>-<time>/ with its
report); a client that cannot take part (a fenced resource needs fencing tokens) is n/a.
Writes results/compare-<time>/comparison.html (client x scenario: what the client
promises, its verdict, anomalies, ops/s, acquire p50/p99, a link to each run's report),
comparison.json and comparison.txt, and prints the table. `--readme FILE` rewrites the
table between the markers <!-- comparison:begin --> and <!-- comparison:end -->;
`--screenshot PNG` takes a picture of the page with headless Chromium.

Exit codes: 0 no client broke a promise, 1 some client broke one (anomalies where it
claims mutual exclusion), 2 a promised run was undecided, 3 bad input (a scenario, a
client name), 4 environment (servers, a client's venv, Chromium), 130 interrupted.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import exitcodes
from harness.clients import CLIENTS, client_names
from harness.clients.promises import promise
from harness.clients.venvs import ensure_venvs
from harness.commands import add_results_option
from harness.errors import BadInput, EnvironmentFailure
from harness.report.comparison import Cell, broken, markdown_matrix, render_page, text_table
from harness.results import INTERRUPTED

BEGIN, END = "<!-- comparison:begin -->", "<!-- comparison:end -->"
PAGE, DATA, TEXT = "comparison.html", "comparison.json", "comparison.txt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenarios", type=Path, nargs="+", metavar="SCENARIO", help="lock scenario YAML files")
    parser.add_argument("--clients", default="all", metavar="NAMES",
                        help=f"'all' or a comma-separated list of: {', '.join(client_names())}")
    add_results_option(parser)
    parser.add_argument("--duration", type=float, metavar="S", help="override every scenario's duration (s)")
    parser.add_argument("--readme", type=Path, metavar="FILE",
                        help=f"rewrite the table between {BEGIN} and {END} in FILE")
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="save a picture of the page (Chromium)")


def parse_clients(text: str) -> list[str]:
    """'all' or 'a,b' -> client names in registry order; BadInput naming an unknown one."""
    if text.strip() == "all":
        return client_names()
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in CLIENTS]
    if unknown or not names:
        raise BadInput(None, f"unknown client(s) {unknown or [text]}; known: {', '.join(CLIENTS)} (or all)",
                       field="--clients")
    return [n for n in CLIENTS if n in names]


def cell_from_results(client: str, scenario: str, promised: Any, results: dict[str, Any], rel_dir: str) -> Cell:
    checkers = results.get("checkers") or {}
    kinds = sorted({a.get("kind", "?") for v in checkers.values() for a in v.get("anomalies") or []})
    acquire = (results.get("latency_ms") or {}).get("acquire") or {}
    counts = (results.get("counts") or {}).get("acquire") or {}
    valid, note = results.get("valid"), None if results.get("status") == "complete" else f"run {results.get('status')}"
    if valid is True and not counts.get("ok"):  # nothing was ever held: the run proves nothing
        valid, note = "unknown", "no lock was ever held: the run exercised nothing"
    return Cell(client=client, scenario=scenario, promise=promised.kind, promise_reason=promised.reason,
                valid=valid, anomalies=sum(len(v.get("anomalies") or []) for v in checkers.values()),
                anomaly_kinds=tuple(kinds), ops_per_s=results.get("throughput_ops_s"),
                acquire_p50_ms=acquire.get("p50"), acquire_p99_ms=acquire.get("p99"),
                acquires_ok=counts.get("ok"), run_dir=rel_dir,
                version=(results.get("client") or {}).get("version"),
                note=note,
                skipped_checkers=results.get("checkers_skipped") or {})


def execute(args: argparse.Namespace) -> int:
    from harness.runner import new_run_dir, run_scenario
    from harness.scenario.loader import load_scenario

    clients = parse_clients(args.clients)
    loaded = []
    for path in args.scenarios:
        scenario = load_scenario(path, overrides={"duration": args.duration}).scenario
        if scenario.workload.type != "lock":
            raise BadInput(path, f"compare runs lock scenarios; this one is {scenario.workload.type!r}",
                           field="workload.type")
        loaded.append((path, scenario))
    # every venv before the first run, built side by side (exit 4 if one cannot be built)
    ensure_venvs([CLIENTS[name] for name in clients])

    results_dir: Path = args.results
    out_dir = new_run_dir(results_dir, "compare")
    cells: list[Cell] = []
    total = sum(1 for _ in loaded) * len(clients)
    status = exitcodes.VALID
    try:
        for path, scenario in loaded:
            for name in clients:
                promised = promise(CLIENTS[name], scenario)
                label = f"[{len(cells) + 1}/{total}] {scenario.name} × {name}"
                if promised.kind == "n/a":
                    cells.append(Cell(name, scenario.name, promised.kind, promised.reason))
                    print(f"{label}: n/a ({promised.reason})", flush=True)
                    continue
                outcome = run_scenario(path, results_dir=results_dir, duration=args.duration, client=name,
                                       progress=io.StringIO(), out=io.StringIO())
                if outcome.exit_code == INTERRUPTED:  # Ctrl-C: the runner stopped that run cleanly
                    raise KeyboardInterrupt
                rel = str(Path("..") / outcome.run_dir.relative_to(results_dir))
                cell = cell_from_results(name, scenario.name, promised, outcome.results, rel)
                cells.append(cell)
                print(f"{label}: {cell.verdict} ({cell.anomalies} anomalies, {promised.kind}"
                      f"{', ' + cell.judgement if cell.judgement and cell.judgement != 'no promise' else ''})"
                      f" -> {outcome.run_dir}", flush=True)
    except KeyboardInterrupt:
        print("interrupted: writing the comparison of the runs done so far", file=sys.stderr)
        status = INTERRUPTED
    finally:
        if cells:
            _write(out_dir, cells, loaded, args)
    if status == INTERRUPTED:
        return status
    headers, rows = text_table(cells)
    from harness.commands.runs import format_table

    print(format_table(rows, headers))
    print(f"comparison: {out_dir / PAGE}")
    if args.readme is not None:
        update_readme(args.readme, cells, args.screenshot)
        print(f"README table updated: {args.readme}")
    if args.screenshot is not None:
        screenshot(out_dir / PAGE, args.screenshot)
        print(f"screenshot: {args.screenshot}")
    if broken(cells):
        return exitcodes.INVALID
    if any(c.promise == "promised" and c.valid == "unknown" for c in cells):
        return exitcodes.UNKNOWN
    return status


def _command(args: argparse.Namespace) -> str:
    parts = ["python -m harness compare", *(str(p) for p in args.scenarios), "--clients", args.clients]
    if args.duration is not None:
        parts += ["--duration", f"{args.duration:g}"]
    return " ".join(shlex.quote(p) if " " in p else p for p in parts)


def _write(out_dir: Path, cells: list[Cell], loaded: list[tuple[Path, Any]], args: argparse.Namespace) -> None:
    from harness.commands.runs import format_table
    from harness.results import write_json_atomic

    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info = {s.name: s.description for _, s in loaded}
    page = render_page(cells, CLIENTS, info, title="Redis locks for Python under faults", generated=generated,
                       command=_command(args))
    partial = out_dir / (PAGE + ".partial")
    partial.write_text(page, encoding="utf-8")
    partial.replace(out_dir / PAGE)
    write_json_atomic(out_dir / DATA, {"generated": generated, "command": _command(args),
                                        "cells": [c.to_json() for c in cells]})
    headers, rows = text_table(cells)
    (out_dir / TEXT).write_text(format_table(rows, headers) + "\n", encoding="utf-8")


def update_readme(readme: Path, cells: list[Cell], picture: Path | None) -> None:
    """Replace the text between the markers with the matrix (and the picture's link)."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError as error:
        raise BadInput(readme, f"cannot read: {error}") from None
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise BadInput(readme, f"no {BEGIN} ... {END} markers to put the table between", field="--readme")
    block = [BEGIN, markdown_matrix(cells, CLIENTS)]
    if picture is not None:
        rel = Path(os.path.relpath(picture, readme.parent))
        block.append(f"\n![the comparison page]({rel.as_posix()})")
    block.append(END)
    readme.write_text(pattern.sub(lambda _: "\n".join(block), text), encoding="utf-8")


def screenshot(page: Path, png: Path, *, width: int = 1700) -> None:
    """A full picture of `page` with headless Chromium (EnvironmentFailure if it is missing)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise EnvironmentFailure("chromium not found: install Debian's chromium (scripts/setup.sh does)")
    png.parent.mkdir(parents=True, exist_ok=True)
    height = 520 + 200 * page.read_text(encoding="utf-8").count("<tr><td class='client'>")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               "--disable-background-networking", "--hide-scrollbars",
                               f"--user-data-dir={profile}", f"--window-size={width},{height}",
                               f"--screenshot={png.resolve()}", page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not png.exists():
        raise EnvironmentFailure(f"chromium could not take the screenshot: {done.stderr.strip()[-300:]}")
