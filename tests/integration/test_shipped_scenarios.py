"""Every shipped scenario (scenarios/*.yaml, but the docker-compose one) reaches its expectation.

The README promises what each scenario shows: the valid ones stay valid under
their faults, the KNOWN BROKEN ones (`expect: invalid`) are caught. Each is run
here for real (redis-server + toxiproxy-server), shortened to `DURATION`
seconds; the seeds are the shipped ones. Each was run three times at this
length and reached its expectation every time (see GATES for what each run
must also show, so that "valid" never comes from a run that did nothing).
The HTML report is not drawn (tests/integration/test_report_browser.py and
test_analysis_real_run.py cover it): a gate is about the verdict.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.runner import run_scenario

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DURATION = 8.0  # s: every schedule below has a fault window inside it
NOT_RUN_HERE = {
    "external.yaml",  # needs the docker-compose cluster
    # the clock scenarios run in tests/integration/test_clock_scenarios.py, which also checks that
    # every overlap came after a jump
    "clock-jump.yaml", "clock-jump-fenced.yaml", "clock-rate-within-drift.yaml", "clock-rate-beyond-drift.yaml",
    "queue-clock-jump.yaml",
    # the empty-restart scenarios, protected and not, run in tests/integration/test_recovery_scenarios.py
    "kill-restart-empty.yaml", "kill-restart-empty-unprotected.yaml", "register-restart-empty.yaml",
    "register-restart-empty-unprotected.yaml",
}

Results = dict[str, Any]


def anomaly_kinds(results: Results, checker: str) -> set[str]:
    return {a["kind"] for a in results["checkers"][checker]["anomalies"]}


def faults(results: Results) -> list[str]:
    return [w["fault"] for w in results["faults"]]


def ok(results: Results, f: str) -> int:
    return results["counts"].get(f, {}).get("ok", 0)


# scenario file -> what its run must show besides meeting `expect`
GATES: dict[str, Callable[[Results], bool]] = {
    # minority and majority kills (appendonly always): exclusive holds all along
    "kill-restart.yaml": lambda r: faults(r) == ["kill", "kill"] and ok(r, "acquire") > 10,
    "latency.yaml": lambda r: "latency" in faults(r) and ok(r, "acquire") > 10,
    "partition.yaml": lambda r: bool(faults(r)) and all(f.startswith("partition") for f in faults(r))
                      and ok(r, "acquire") > 10,
    # the stale holder's work is refused by the fenced resource
    "pause-fenced.yaml": lambda r: r["checkers"]["resource"]["stats"]["rejected_uses"] > 0
                         and ok(r, "use") > 5,
    # ... and accepted by the unfenced one: two holders at once
    "pause.yaml": lambda r: "concurrent-use" in anomaly_kinds(r, "resource"),
    "queue-partition.yaml": lambda r: bool(faults(r)) and ok(r, "consume") > 20 and ok(r, "drain") == 1,
    # clock skew loses writes: reads that no linearization explains
    "register-fast.yaml": lambda r: bool(anomaly_kinds(r, "register")
                                         & {"nonlinearizable", "stale-read", "lost-write"}),
    "register-linearizable.yaml": lambda r: bool(faults(r)) and ok(r, "read") > 50 and ok(r, "write") > 50,
    # this seed's own subset of fault kinds, and the lock kept working through them
    "swarm.yaml": lambda r: bool(faults(r)) and ok(r, "acquire") > 10,
}


def shipped() -> list[str]:
    return sorted(p.name for p in (REPO / "scenarios").glob("*.yaml") if p.name not in NOT_RUN_HERE)


def test_every_shipped_scenario_has_a_gate() -> None:
    assert sorted(GATES) == shipped()


@pytest.mark.parametrize("scenario", shipped())
def test_shipped_scenario_reaches_its_expectation(scenario: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.report.write_report", lambda run_dir: [])
    out = io.StringIO()
    outcome = run_scenario(REPO / "scenarios" / scenario, results_dir=tmp_path, duration=DURATION,
                           progress=io.StringIO(), out=out)
    results = outcome.results
    assert (outcome.exit_code, results["passed"], results["status"]) == (0, True, "complete"), out.getvalue()
    assert results["valid"] is (results["expect"] == "valid")
    assert results["ops_total"] > 50, "the run did too little to judge"
    assert GATES[scenario](results), {k: results[k] for k in ("counts", "faults", "checkers")}
