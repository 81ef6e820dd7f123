"""The outcome of a sweep: per scenario, every seed's verdict; the sweep's exit code, table, sweep.json, sweep.html.

Exit code of one scenario over its seeds (its `expect`):
- expect valid: 0 when every seed is valid; 1 when any seed found an anomaly;
  2 when none did but some verdict is unknown;
- expect invalid: 0 when at least one seed found the anomaly, else 1;
- expect {checker: valid|invalid} (a checker left out is expected valid): each
  checker over the seeds as above — a checker expected invalid must fail in at
  least one seed, one expected valid in none; 1 when a checker missed, else 2
  when a verdict it needed is unknown;
- a seed that could not run (exit 3 or 4: bad input, a worker without
  redis-server) makes the scenario exit with that code, unless an anomaly
  already decides it.
The sweep exits with the worst of its scenarios' codes (4 > 3 > 1 > 2 > 0), or
130 when it was interrupted (the summary then covers the seeds that finished).
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from harness import exitcodes
from harness.results import INTERRUPTED, checker_expectations, write_json_atomic
from harness.sweeps.tasks import SeedReport

SEVERITY = {exitcodes.VALID: 0, exitcodes.UNKNOWN: 1, exitcodes.INVALID: 2, exitcodes.BAD_INPUT: 3,
            exitcodes.ENVIRONMENT: 4}


@dataclass
class ScenarioSweep:
    """One scenario's seeds in a sweep."""

    name: str
    scenario_file: str
    expect: str | Mapping[str, str]
    seeds: list[SeedReport] = field(default_factory=list)

    @property
    def failing(self) -> list[int]:
        """Seeds whose verdict is not valid (anomalies, unknown, or no verdict)."""
        return sorted(r.seed for r in self.seeds if r.valid is not True)

    @property
    def exit_code(self) -> int:
        verdicts = [r.valid for r in self.seeds]
        broken = [r.exit_code for r in self.seeds if r.valid is None]
        if not isinstance(self.expect, str):
            return self._per_checker_exit_code(broken)
        if self.expect == "invalid":
            if any(v is False for v in verdicts):
                return exitcodes.VALID
            return max(broken, key=SEVERITY.get) if broken else exitcodes.INVALID  # type: ignore[arg-type]
        if any(v is False for v in verdicts):
            return exitcodes.INVALID
        if broken:
            return max(broken, key=SEVERITY.get)  # type: ignore[arg-type]
        if any(v != True for v in verdicts):  # noqa: E712 - "unknown" is truthy
            return exitcodes.UNKNOWN
        return exitcodes.VALID


    def _per_checker_exit_code(self, broken: list[int]) -> int:
        assert not isinstance(self.expect, str)
        ran = [r for r in self.seeds if r.valid is not None]
        names = {name for r in ran for name in r.checkers}
        missed = unknown = False
        for name, wanted in checker_expectations(self.expect, sorted(names)).items():
            seen = [r.checkers.get(name, {}).get("valid", "unknown") for r in ran]
            if wanted == "invalid":
                missed |= not any(v is False for v in seen)
            else:
                missed |= any(v is False for v in seen)
                unknown |= any(not isinstance(v, bool) for v in seen)
        if missed:
            return exitcodes.INVALID
        if broken:
            return max(broken, key=SEVERITY.get)  # type: ignore[arg-type]
        return exitcodes.UNKNOWN if unknown else exitcodes.VALID


@dataclass
class SweepOutcome:
    """Every scenario of a sweep (see the module docstring)."""

    mode: str                                   # "simulation" | "real"
    scenarios: dict[str, ScenarioSweep] = field(default_factory=dict)  # by scenario file
    status: str = "complete"
    wall_s: float = 0.0
    planned: int = 0
    sweep_dir: Path | None = None

    def add(self, report: SeedReport) -> None:
        self.scenarios[report.scenario_file].seeds.append(report)

    @property
    def done(self) -> int:
        return sum(len(s.seeds) for s in self.scenarios.values())

    @property
    def failures(self) -> int:
        return sum(len(s.failing) for s in self.scenarios.values())

    @property
    def exit_code(self) -> int:
        if self.status != "complete":
            return INTERRUPTED
        codes = [s.exit_code for s in self.scenarios.values()]
        return max(codes, key=SEVERITY.get) if codes else exitcodes.VALID  # type: ignore[arg-type]

    @property
    def seeds_per_minute(self) -> float:
        return 60.0 * self.done / self.wall_s if self.wall_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        def row(report: SeedReport) -> dict[str, Any]:
            data = asdict(report)
            data.pop("archive")
            return data

        return {"mode": self.mode, "status": self.status, "exit_code": self.exit_code,
                "seeds_planned": self.planned, "seeds_run": self.done, "wall_s": round(self.wall_s, 3),
                "seeds_per_minute": round(self.seeds_per_minute, 1),
                "scenarios": [{"name": s.name, "scenario_file": s.scenario_file, "expect": s.expect,
                               "exit_code": s.exit_code, "seeds_run": len(s.seeds), "failing_seeds": s.failing,
                               "seeds": [row(r) for r in sorted(s.seeds, key=lambda r: r.seed)]}
                              for s in self.scenarios.values()]}


def write_summary(outcome: SweepOutcome) -> None:
    """sweep.json and sweep.html into `outcome.sweep_dir` (atomically, the JSON)."""
    assert outcome.sweep_dir is not None
    write_json_atomic(outcome.sweep_dir / "sweep.json", outcome.to_json())
    page = outcome.sweep_dir / "sweep.html"
    tmp = page.with_name(".sweep.html.tmp")
    tmp.write_text(render_html(outcome), encoding="utf-8")
    os.replace(tmp, page)


def print_table(outcome: SweepOutcome, out: TextIO) -> None:
    verdict = {exitcodes.VALID: "passed", INTERRUPTED: "INTERRUPTED"}.get(outcome.exit_code, "FAILED")
    print(f"sweep ({outcome.mode}): {outcome.done} of {outcome.planned} seeds in {outcome.wall_s:.1f} s, "
          f"{outcome.seeds_per_minute:.1f} seeds/min -> {verdict}, exit {outcome.exit_code}", file=out)
    print(f"  {'scenario':<28} {'expect':<8} {'seeds':>6} {'failing':>8} {'exit':>5}", file=out)
    for s in outcome.scenarios.values():
        expect = s.expect if isinstance(s.expect, str) else "per-checker"
        print(f"  {s.name:<28} {expect:<8} {len(s.seeds):>6} {len(s.failing):>8} {s.exit_code:>5}", file=out)
    for s in outcome.scenarios.values():
        for report in sorted(s.seeds, key=lambda r: r.seed):
            if report.valid is True:
                continue
            if report.valid is None:
                why = f"no verdict (exit {report.exit_code}): {report.error}"
            else:
                why = ", ".join(f"{name}={v['valid']} ({v['anomalies']} anomalies)"
                                for name, v in report.checkers.items() if v["valid"] is not True)
            print(f"  {s.name} seed {report.seed}: {why}  {report.run_dir or ''}", file=out)
    if outcome.sweep_dir is not None:
        print(f"  sweep: {outcome.sweep_dir / 'sweep.json'}  {outcome.sweep_dir / 'sweep.html'}", file=out)


def render_html(outcome: SweepOutcome) -> str:
    """One self-contained page: scenarios × verdicts, links to the kept run folders' reports."""
    esc = html.escape
    rows = []
    for s in outcome.scenarios.values():
        counts = {"valid": 0, "invalid": 0, "unknown": 0, "no verdict": 0}
        for r in s.seeds:
            counts[{True: "valid", False: "invalid", None: "no verdict"}.get(r.valid, "unknown")] += 1
        links = []
        for r in sorted(s.seeds, key=lambda r: r.seed):
            if r.valid is True and not r.run_dir:
                continue
            label = f"seed {r.seed}"
            if r.run_dir and outcome.sweep_dir is not None:
                target = os.path.relpath(Path(r.run_dir) / "report.html", outcome.sweep_dir)
                links.append(f'<a href="{esc(target)}">{esc(label)}</a>')
            elif r.valid is not True:
                links.append(esc(f"{label} ({r.error or 'no folder'})"))
        state = "ok" if s.exit_code == exitcodes.VALID else "bad"
        rows.append(f"<tr class='{state}'><td>{esc(s.name)}</td><td>{esc(str(s.expect))}</td><td>{len(s.seeds)}</td>"
                    + "".join(f"<td>{counts[k]}</td>" for k in counts)
                    + f"<td>{s.exit_code}</td><td>{' '.join(links) or '—'}</td></tr>")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>sweep ({esc(outcome.mode)})</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}} tr.bad td{{background:#fde2e1}}
tr.ok td{{background:#e3f6e5}}</style></head><body>
<h1>Sweep: {esc(outcome.mode)}, exit {outcome.exit_code} ({esc(outcome.status)})</h1>
<p>{outcome.done} of {outcome.planned} seeds in {outcome.wall_s:.1f} s ({outcome.seeds_per_minute:.1f} seeds/min).</p>
<table><tr><th>scenario</th><th>expect</th><th>seeds</th><th>valid</th><th>invalid</th><th>unknown</th>
<th>no verdict</th><th>exit</th><th>seeds not valid (reports)</th></tr>
{''.join(rows)}
</table></body></html>
"""
