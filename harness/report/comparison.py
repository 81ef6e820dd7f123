"""The comparison of clients under test: client x scenario -> promise, verdict, anomalies,
ops/s, acquire p50/p99, with a link to each run's report.

Pure functions of `Cell`s (built from each run's results.json by harness/commands/compare.py):
`text_table` (printed), `markdown_matrix` (README), `render_page` (comparison.html, one
self-contained page, links relative to the page's folder).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from html import escape
from typing import Any

from harness.clients.specs import ClientSpec


@dataclass(frozen=True, slots=True)
class Cell:
    """One client under one scenario."""

    client: str
    scenario: str
    promise: str                      # promised | no promise | n/a
    promise_reason: str
    valid: Any = None                 # True | False | "unknown" | None (not run)
    anomalies: int = 0
    anomaly_kinds: tuple[str, ...] = ()
    ops_per_s: float | None = None
    acquire_p50_ms: float | None = None
    acquire_p99_ms: float | None = None
    acquires_ok: int | None = None
    run_dir: str | None = None        # relative to the page's folder
    version: str | None = None
    note: str | None = None           # e.g. a run that could not start
    skipped_checkers: Mapping[str, str] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        if self.promise == "n/a":
            return "n/a"
        if self.valid is True:
            return "valid"
        if self.valid is False:
            return "INVALID"
        if self.valid == "unknown":
            return "unknown"
        return "not run"

    @property
    def judgement(self) -> str:
        """How the verdict reads against the promise."""
        if self.promise == "n/a" or self.valid is None:
            return ""
        if self.promise == "promised":
            return {True: "kept", False: "BROKEN"}.get(self.valid, "undecided")  # type: ignore[call-overload]
        return "no promise"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict
        data["judgement"] = self.judgement
        data["skipped_checkers"] = dict(self.skipped_checkers)
        return data


def broken(cells: Sequence[Cell]) -> list[Cell]:
    """Cells where a client broke what it promised."""
    return [c for c in cells if c.judgement == "BROKEN"]


def _ms(value: float | None) -> str:
    return "-" if value is None else (f"{value:.0f}" if value >= 10 else f"{value:.1f}")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def text_table(cells: Sequence[Cell]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """(headers, rows) of the long table: one row per client and scenario."""
    headers: tuple[str, ...] = ("client", "scenario", "promise", "verdict", "anomalies", "ops/s",
                                "acq p50 ms", "acq p99 ms", "judgement", "run")
    rows: list[tuple[str, ...]] = [
        (c.client, c.scenario, c.promise, c.verdict, str(c.anomalies) if c.valid is not None else "-",
         _num(c.ops_per_s), _ms(c.acquire_p50_ms), _ms(c.acquire_p99_ms), c.judgement or "-",
         c.run_dir or (c.note or "-"))
        for c in cells]
    return headers, rows


def _ordered(cells: Sequence[Cell]) -> tuple[list[str], list[str], dict[tuple[str, str], Cell]]:
    clients: list[str] = []
    scenarios: list[str] = []
    for c in cells:
        if c.client not in clients:
            clients.append(c.client)
        if c.scenario not in scenarios:
            scenarios.append(c.scenario)
    return clients, scenarios, {(c.client, c.scenario): c for c in cells}


_MARK = {"kept": "✅", "BROKEN": "❌", "no promise": "⚠️", "undecided": "❔"}


def markdown_matrix(cells: Sequence[Cell], specs: Mapping[str, ClientSpec]) -> str:
    """A client x scenario matrix in Markdown (the README's table)."""
    clients, scenarios, by_key = _ordered(cells)
    lines = ["| client | scope, tokens | " + " | ".join(f"`{s}`" for s in scenarios) + " |",
             "|---|---|" + "---|" * len(scenarios)]
    for client in clients:
        spec = specs.get(client)
        shape = (f"{spec.scope}, {'tokens' if spec.fencing_tokens else 'no tokens'}" if spec else "")
        row = []
        for scenario in scenarios:
            cell = by_key.get((client, scenario))
            if cell is None:
                row.append("")
            elif cell.verdict == "n/a":
                row.append("n/a")
            else:
                mark = _MARK.get(cell.judgement, "")
                detail = f" ({cell.anomalies})" if cell.valid is False else ""
                row.append(f"{mark} {cell.verdict}{detail} · {_num(cell.ops_per_s)}/s".strip())
        lines.append(f"| {client} | {shape} | " + " | ".join(row) + " |")
    lines.append("")
    lines.append("✅ promised and kept · ❌ promised and broken · ⚠️ no promise under these faults "
                 "(see the page) · n/a: needs fencing tokens · (N): anomalies · /s: ops per second")
    return "\n".join(lines)


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:22px;margin:0 0 4px} .sub{color:#666;margin:0 0 16px}
table{border-collapse:collapse} th,td{border:1px solid #ddd;padding:6px 8px;vertical-align:top}
th{background:#f5f5f5;text-align:left} td.cell{min-width:150px}
.valid{background:#e8f5e9} .INVALID{background:#fdecea} .unknown{background:#fff8e1}
.na{background:#f3f3f3;color:#888} .notrun{background:#fff8e1}
.badge{display:inline-block;border-radius:3px;padding:0 5px;font-size:12px;margin-right:4px}
.promised{background:#dbe9f7} .nopromise{background:#fde9c8} .BROKEN{background:#e0524a;color:#fff}
.kept{background:#4caf50;color:#fff} .v{font-weight:600} .m{color:#555;font-size:12px}
.client small{color:#666} ul{margin:4px 0;padding-left:18px}
"""


def render_page(cells: Sequence[Cell], specs: Mapping[str, ClientSpec], scenarios_info: Mapping[str, str],
                *, title: str, generated: str, command: str) -> str:
    """comparison.html: the matrix with every cell's promise, verdict and numbers."""
    clients, scenarios, by_key = _ordered(cells)
    head = "".join(f"<th>{escape(s)}<br><span class='m'>{escape(scenarios_info.get(s, ''))}</span></th>"
                   for s in scenarios)
    body = []
    for client in clients:
        spec = specs.get(client)
        cells_html = "".join(_cell_html(by_key.get((client, s))) for s in scenarios)
        body.append(f"<tr><td class='client'>{_client_html(client, spec, by_key, scenarios)}</td>{cells_html}</tr>")
    n_broken = len(broken(cells))
    summary = (f"{len(clients)} clients × {len(scenarios)} scenarios · "
               f"{sum(1 for c in cells if c.valid is not None)} runs · "
               f"{n_broken} promise(s) broken")
    data = json.dumps([c.to_json() for c in cells]).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{escape(title)}</h1>
<p class="sub">{escape(summary)} · generated {escape(generated)} · <code>{escape(command)}</code></p>
<table><thead><tr><th>client</th>{head}</tr></thead><tbody>
{''.join(body)}
</tbody></table>
<h2>How to read it</h2>
<ul>
<li><span class="badge promised">promised</span>the library claims mutual exclusion under these faults:
an anomaly means it <span class="badge BROKEN">BROKEN</span> its promise, none means it
<span class="badge kept">kept</span> it (in this run: a valid run is not a proof).</li>
<li><span class="badge nopromise">no promise</span>the library does not claim safety here (a client
paused past its ttl on an unfenced resource; nodes restarted empty; a single-node lock whose node is
killed): anomalies are expected, not bugs.</li>
<li>n/a: the scenario fences the resource by token; a client without fencing tokens cannot be fenced.</li>
<li>Holds of a client that reports no validity are judged by the ttl it was asked for, counted from
the invocation; a client without tokens gets hold numbers (the fencing checker is skipped).</li>
<li>Checkers: mutex-graph (no two certain holds overlap), fencing (tokens grow with real time),
resource (the protected resource never accepts overlapping or stale work).
ops/s: client operations per second of the workload phase; acquire p50/p99: latency of acquires
that completed (ok or refused).</li>
</ul>
<script type="application/json" id="cells">{data}</script>
</body></html>
"""


def _client_html(client: str, spec: ClientSpec | None, by_key: Mapping[tuple[str, str], Cell],
                 scenarios: Sequence[str]) -> str:
    if spec is None:
        return escape(client)
    version = next((c.version for s in scenarios if (c := by_key.get((client, s))) and c.version), spec.version)
    facts = [spec.shape, f"scope: {spec.scope}", "fencing tokens" if spec.fencing_tokens else "no fencing tokens",
             "validity reported" if spec.reports_validity else "no validity: judged by the ttl",
             "extend" if spec.extend else "no extend", *spec.notes]
    items = "".join(f"<li>{escape(f)}</li>" for f in facts)
    return (f"<b>{escape(client)}</b> <small>{escape(spec.package)} {escape(str(version))}</small>"
            f"<ul class='m'>{items}</ul>")


def _cell_html(cell: Cell | None) -> str:
    if cell is None:
        return "<td></td>"
    if cell.verdict == "n/a":
        return f"<td class='cell na' title='{escape(cell.promise_reason)}'>n/a<br><span class='m'>" \
               f"{escape(cell.promise_reason)}</span></td>"
    css = {"valid": "valid", "INVALID": "INVALID", "unknown": "unknown"}.get(cell.verdict, "notrun")
    promise_css = "promised" if cell.promise == "promised" else "nopromise"
    judgement = (f"<span class='badge {escape(cell.judgement) if cell.judgement in ('kept', 'BROKEN') else ''}'>"
                 f"{escape(cell.judgement)}</span>" if cell.judgement and cell.judgement != "no promise" else "")
    lines = [f"<span class='badge {promise_css}' title='{escape(cell.promise_reason)}'>{escape(cell.promise)}</span>"
             f"{judgement}",
             f"<span class='v'>{escape(cell.verdict)}</span>"
             + (f" · {cell.anomalies} anomalies" if cell.valid is False else "")]
    if cell.anomaly_kinds:
        lines.append(f"<span class='m'>{escape(', '.join(cell.anomaly_kinds))}</span>")
    if cell.valid is not None:
        lines.append(f"<span class='m'>{_num(cell.ops_per_s)} ops/s · acquire p50 {_ms(cell.acquire_p50_ms)} ms"
                     f" · p99 {_ms(cell.acquire_p99_ms)} ms · {cell.acquires_ok} holds</span>")
    if cell.skipped_checkers:
        lines.append(f"<span class='m'>skipped: {escape(', '.join(cell.skipped_checkers))}</span>")
    if cell.note:
        lines.append(f"<span class='m'>{escape(cell.note)}</span>")
    if cell.run_dir:
        lines.append(f"<a href='{escape(cell.run_dir)}/report.html'>report</a>")
    return f"<td class='cell {css}'>" + "<br>".join(lines) + "</td>"
