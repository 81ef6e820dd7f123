"""Issue 16's scenarios on real redis-server + toxiproxy (short durations): nodes restarted
empty mid-hold / mid-register. With the library's recovery the runs are valid; with
`recovery: false` the same faults give two holders / a stale read (the difference stays visible).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from harness.runner import run_scenario

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def run(name: str, tmp_path: Path, duration: float) -> dict:
    outcome = run_scenario(SCENARIOS / name, results_dir=tmp_path, duration=duration,
                           progress=io.StringIO(), out=io.StringIO())
    return outcome.results


def _faults(results: dict, kind: str) -> list[dict]:
    return [f for f in results["faults"] if f["fault"] == kind]


def test_kill_restart_empty_is_valid_with_recovery_and_invalid_without(tmp_path: Path) -> None:
    protected = run("kill-restart-empty.yaml", tmp_path / "on", duration=18)
    assert [f["value"]["empty"] for f in _faults(protected, "kill")] == [True]  # the fault happened
    assert protected["counts"]["acquire"]["ok"] >= 2  # holds before the kill and after the recovery
    assert protected["valid"] is True and protected["exit_code"] == 0
    unprotected = run("kill-restart-empty-unprotected.yaml", tmp_path / "off", duration=20)  # kills every 4 s
    assert _faults(unprotected, "kill")
    assert unprotected["checkers"]["mutex-graph"]["valid"] is False  # two holders without recovery
    assert unprotected["passed"] is True and unprotected["exit_code"] == 0  # expect: invalid


def test_register_restart_empty_is_linearizable_with_recovery(tmp_path: Path) -> None:
    results = run("register-restart-empty.yaml", tmp_path, duration=12)
    kinds = sorted(f["fault"] for f in results["faults"])
    assert kinds.count("kill") == 1 and kinds.count("partition-node") >= 2
    assert results["counts"]["read"]["ok"] > 10 and results["counts"]["write"]["ok"] > 10
    assert results["checkers"]["register"]["valid"] is True
    assert results["exit_code"] == 0
