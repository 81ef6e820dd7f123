"""report.html: one self-contained page (inline CSS, JS and PNGs; nothing fetched at view time).

Static HTML carries what needs no interaction (verdicts, tables, plots); the timeline and the
anomaly list are drawn by timeline.js from an inline JSON payload (harness.report.timeline).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from html import escape
from importlib import resources
from typing import Any

import pandas as pd

from harness.analysis import Run, format_validity, latency_quantiles
from harness.report import fault_latency
from harness.report.timeline import timeline_data, to_script_json


def _asset(name: str) -> str:
    return resources.files("harness.report").joinpath(name).read_text(encoding="utf-8")


def _verdict_class(valid: Any) -> str:
    if valid is True:
        return "valid"
    if valid is False:
        return "invalid"
    return "unknown" if valid == "unknown" else "none"


def _banner(run: Run) -> str:
    results = run.results
    valid = run.valid
    css = _verdict_class(valid)
    big = {"valid": "VALID", "invalid": "INVALID — anomalies found",
           "unknown": "UNKNOWN — a checker could not decide", "none": "NO VERDICT"}[css]
    if results.get("status") == "environment-failure":
        big = "ENVIRONMENT FAILURE — the run did not exercise the system" + (
            " (and anomalies were found)" if valid is False else "")
    elif css == "unknown" and results.get("reason"):
        big = "UNKNOWN — not judged"
    parts = [f'<span class="big">{escape(big)}</span>']
    expect, passed = results.get("expect"), results.get("passed")
    if expect is not None:
        outcome = "gate passed" if passed else "gate FAILED" if passed is False else ""
        shown = expect if isinstance(expect, str) else ", ".join(f"{k} {v}" for k, v in expect.items())
        parts.append(f'<span class="sub">expected {escape(str(shown))}'
                     f'{" · " + outcome if outcome else ""}</span>')
    anomalies = sum(len(v.get("anomalies") or []) for v in run.checkers.values())
    failed = [name for name, v in run.checkers.items() if v.get("valid") is False]
    if failed:
        parts.append(f'<span class="sub">failed: <b>{escape(", ".join(failed))}</b></span>')
    if run.checkers:
        parts.append(f'<span class="sub">{len(run.checkers)} checkers · {anomalies} anomalies</span>')
    return f'<div class="banner {css}" id="verdict">{"".join(parts)}</div>'


def _notices(run: Run) -> str:
    notes = []
    if not run.results:
        notes.append("No results.json in this folder: the run did not finish checking; "
                     "the timeline below is built from history.jsonl alone.")
    status = run.results.get("status")
    if run.results.get("reason"):
        notes.append(f"Why: <b>{escape(str(run.results['reason']))}</b>")
    if status and status not in ("complete", "environment-failure"):
        notes.append(f"Run status: <b>{escape(str(status))}</b> — the history may stop early "
                     "(a crash or an interrupted run); verdicts cover what was recorded.")
    client = run.results.get("client")
    if isinstance(client, Mapping):
        notes.append(_client_note(client, run.results.get("checkers_skipped") or {}))
    open_faults = run.faults[~run.faults["stopped"]] if len(run.faults) else run.faults
    if len(open_faults):
        notes.append(f"{len(open_faults)} fault window(s) never stopped in the history: "
                     "shaded to its end.")
    return "".join(f'<div class="notice">{note}</div>' for note in notes)


def _client_note(client: Mapping[str, Any], skipped: Mapping[str, Any]) -> str:
    """The lock library under test, and how its holds were judged (harness/clients)."""
    parts = [f"Client under test: <b>{escape(str(client.get('name')))}</b> "
             f"({escape(str(client.get('package')))} {escape(str(client.get('version')))}, "
             f"{escape(str(client.get('scope')))})."]
    if client.get("validity") == "requested ttl":
        parts.append("It reports no validity: each hold is judged by the ttl it was asked for, "
                     "counted from the invocation.")
    if client.get("fencing_tokens") is False:
        parts.append("It has no fencing tokens: `token` is a hold number the workload assigns in grant order.")
    for name, why in skipped.items():
        parts.append(f"Checker {escape(str(name))} skipped: {escape(str(why))}.")
    if client.get("worker_restarts"):
        parts.append(f"Its worker process was replaced {escape(str(client['worker_restarts']))} time(s) "
                     "(crashed or hung; see run.log).")
    return " ".join(parts)


def _stat_text(stats: Mapping[str, Any]) -> str:
    shown = [f"{escape(str(k))}: {escape(str(v))}" for k, v in list(stats.items())[:4]
             if isinstance(v, (int, float, str, bool))]
    return " · ".join(shown)


def _checker_cards(run: Run) -> str:
    if not run.checkers:
        return ""
    cards = []
    for name, verdict in run.checkers.items():
        valid = verdict.get("valid")
        anomalies = len(verdict.get("anomalies") or [])
        warnings = len(verdict.get("warnings") or [])
        elapsed = verdict.get("elapsed_s")
        small = [f"{anomalies} anomalies"] + ([f"{warnings} warnings"] if warnings else [])
        if isinstance(elapsed, (int, float)):
            small.append(f"{elapsed:.2f} s")
        stats = _stat_text(verdict.get("stats") or {})
        cards.append(
            f'<div class="checker {_verdict_class(valid)}" data-checker="{escape(name)}">'
            f'<span class="name">{escape(name)}</span>'
            f'<span class="verdict">{escape(format_validity(valid))}</span>'
            f'<div class="small">{escape(" · ".join(small))}</div>'
            + (f'<div class="small">{stats}</div>' if stats else "") + "</div>")
    return f'<div class="checkers">{"".join(cards)}</div>'


def _meta(run: Run) -> str:
    r = run.results
    items = [("started", r.get("started_at")), ("duration", _seconds(r.get("duration_s"))),
             ("workload", r.get("workload")), ("clients", r.get("clients")), ("nodes", r.get("nodes")),
             ("seed", r.get("seed")), ("scenario", r.get("scenario_file")),
             ("ops", r.get("ops_total", len(run.history))),
             ("throughput", f"{r['throughput_ops_s']:g} ops/s"
              if isinstance(r.get("throughput_ops_s"), (int, float)) else None)]
    return '<div class="meta">' + "".join(
        f"<span>{escape(label)}: <b>{escape(str(value))}</b></span>"
        for label, value in items if value not in (None, "")) + "</div>"


def _seconds(value: Any) -> str | None:
    return f"{value:g} s" if isinstance(value, (int, float)) else None


def _number(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _counts_table(history: pd.DataFrame) -> str:
    table = latency_quantiles(history)
    if table.empty:
        return "<p>No client operations in this history.</p>"
    head = ("<thead><tr><th>f</th><th>ok</th><th>fail</th><th>info</th><th>total</th>"
            "<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr></thead>")
    rows = []
    for f, row in table.iterrows():
        rows.append(f"<tr><td>{escape(str(f))}</td><td class=ok>{int(row['ok'])}</td>"
                    f"<td class=fail>{int(row['fail'])}</td><td class=info>{int(row['info'])}</td>"
                    f"<td>{int(row['total'])}</td>"
                    + "".join(f"<td>{_number(row[q])}</td>" for q in ("p50", "p95", "p99", "max"))
                    + "</tr>")
    return (f'<table class="counts" id="counts">{head}<tbody>{"".join(rows)}</tbody></table>'
            '<div class="meta">Latency of ops that completed ok or fail; info ops (unknown outcome) '
            "are excluded: their latency is the client's timeout.</div>")


def _faults_table(run: Run) -> str:
    if run.faults.empty:
        return "<p>No faults were injected in this run.</p>"
    rows = []
    for w in run.faults.itertuples(index=False):
        in_window = run.history[(run.history["invoke_s"] >= w.start_s) & (run.history["invoke_s"] < w.stop_s)]
        ok = int((in_window["type"] == "ok").sum())
        share = f"{ok / len(in_window):.0%}" if len(in_window) else "–"
        rows.append(f"<tr><td>{escape(w.label)}</td><td>{w.start_s:.2f}</td>"
                    f"<td>{w.stop_s:.2f}{'' if w.stopped else ' (never stopped)'}</td>"
                    f"<td>{w.duration_s:.2f}</td><td>{len(in_window)}</td><td>{share}</td></tr>")
    return ('<table class="counts" id="faults"><thead><tr><th>fault</th><th>start s</th><th>stop s</th>'
            "<th>duration s</th><th>ops invoked</th><th>ok share</th></tr></thead>"
            f'<tbody>{"".join(rows)}</tbody></table>')


def _img(png: bytes, alt: str, name: str) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f'<p><img class="plot" id="{name}" alt="{escape(alt)}" src="data:image/png;base64,{encoded}"></p>'


def _scenario(run: Run) -> str:
    scenario_file = run.path / "scenario.yaml"
    if not scenario_file.exists():
        return ""
    text = scenario_file.read_text(encoding="utf-8", errors="replace")
    return f"<details><summary>scenario.yaml (as run)</summary><pre>{escape(text)}</pre></details>"


def render(run: Run, *, latency_png: bytes, rate_png: bytes, now: datetime | None = None) -> str:
    """The whole page as a string."""
    generated = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%SZ")
    payload = to_script_json(timeline_data(run))
    stats = {k: v for k, v in run.results.items() if k not in ("checkers",)}
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(run.name)} — MajorityRedis run report</title>
<style>{_asset("report.css")}</style></head>
<body><main>
<h1>{escape(run.name)}</h1>
{_meta(run)}
{_banner(run)}
{_notices(run)}
{_checker_cards(run)}
<h2>Timeline</h2>
<noscript><div class="notice">The timeline and the anomaly list need JavaScript.</div></noscript>
<div id="timeline"></div>
<h2>Anomalies <span class="meta" id="anomalies-count"></span></h2>
<div id="anomalies"></div>
<h2>Operations</h2>
<div class="columns"><div>{_counts_table(run.history)}</div><div>{_faults_table(run)}</div></div>
<h2>Latency under each fault</h2>
{fault_latency.render(fault_latency.fault_latency(run.history, run.faults))}
<h2>Latency and throughput</h2>
{_img(latency_png, "latency of each operation over time", "latency-png")}
{_img(rate_png, "throughput over time", "rate-png")}
<h2>Inputs</h2>
{_scenario(run)}
<details><summary>results.json (without checker details)</summary>
<pre>{escape(json.dumps(stats, indent=2, default=str))}</pre></details>
<footer>Generated {generated} by <code>python -m harness report {escape(str(run.path))}</code>
from history.jsonl and results.json.</footer>
</main>
<script type="application/json" id="timeline-data">{payload}</script>
<script>{_asset("timeline.js")}</script>
</body></html>
"""
