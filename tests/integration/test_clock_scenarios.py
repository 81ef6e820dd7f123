"""The clock-fault scenarios of scenarios/ reach their expectations on real redis-server nodes
(shortened), and each shows the clock fault as the cause: the anomaly comes after a jump, the
fence rejected the stale holder, the fast clocks dropped keys before their holders released them.
No process is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.history.events import nemesis_events
from harness.history.readers import read_history
from harness.runner import RunOutcome, run_scenario
from tests.integration.test_run_scenarios import PidWatcher
from tests.support.probes import alive

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def run(name: str, tmp_path: Path, duration: float) -> RunOutcome:
    watcher = PidWatcher()
    try:
        outcome = run_scenario(SCENARIOS / f"{name}.yaml", results_dir=tmp_path, duration=duration,
                               cluster_factory=watcher.factory)
    finally:
        watcher.stop()
    assert watcher.cluster.clock_control  # the nodes ran under the clock library
    assert len(watcher.pids) >= 4 and [pid for pid in watcher.pids if alive(pid)] == []
    return outcome


def jump_starts(outcome: RunOutcome) -> list[int]:
    events = read_history(outcome.run_dir / "history.jsonl")
    starts = [e for e in nemesis_events(events) if e.f == "clock-jump" and e.value["phase"] == "start"]
    assert starts and all(len(e.value["nodes"]) == 2 and e.value["offset_s"] == 10 for e in starts)
    return [e.time for e in starts]


def test_clock_jump_overlapping_holds_after_a_jump(tmp_path: Path) -> None:
    outcome = run("clock-jump", tmp_path, duration=8)
    results = outcome.results
    assert (outcome.exit_code, results["passed"], results["valid"]) == (0, True, False), results
    overlaps = results["checkers"]["mutex-graph"]["anomalies"]
    assert overlaps and {a["kind"] for a in overlaps} == {"overlapping-holds"}
    assert results["checkers"]["resource"]["valid"] is False  # unfenced: both holders used it
    jumps = jump_starts(outcome)
    for anomaly in overlaps:  # the second holder got in only after a majority's clocks jumped
        first, second = sorted(anomaly["details"]["holds"], key=lambda h: h["start"])
        assert any(first["start"] <= t <= second["start"] for t in jumps), anomaly["message"]


def test_clock_jump_fenced_holds_overlap_but_the_resource_takes_no_stale_write(tmp_path: Path) -> None:
    outcome = run("clock-jump-fenced", tmp_path, duration=8)
    results = outcome.results
    assert (outcome.exit_code, results["passed"]) == (0, True), results
    assert results["expect"] == {"mutex-graph": "invalid", "fencing": "valid", "resource": "valid"}
    verdicts = {name: v["valid"] for name, v in results["checkers"].items()}
    assert verdicts == {"mutex-graph": False, "fencing": True, "resource": True}
    assert results["counts"]["use"]["fail"] >= 1  # the fence rejected the stale holder


def test_clock_rate_within_drift_is_valid_although_keys_expire_before_release(tmp_path: Path) -> None:
    outcome = run("clock-rate-within-drift", tmp_path, duration=8)
    results = outcome.results
    assert (outcome.exit_code, results["passed"], results["valid"]) == (0, True, True), results
    assert results["checkers"]["mutex-graph"]["stats"]["holds"] >= 3
    # a 2 s key outlives the 1.7 s cycle on a real clock; at 1.2x it is gone before the release
    assert results["counts"]["release"]["fail"] >= 2
    assert [w["fault"] for w in results["faults"]] == ["clock-rate"]
    assert results["faults"][0]["value"] == {"nodes": ["n1", "n2", "n3"], "rate": 1.2}


def test_clock_rate_beyond_drift_overlapping_holds(tmp_path: Path) -> None:
    outcome = run("clock-rate-beyond-drift", tmp_path, duration=8)
    results = outcome.results
    assert (outcome.exit_code, results["passed"], results["valid"]) == (0, True, False), results
    assert results["checkers"]["mutex-graph"]["anomalies"]
    assert results["checkers"]["fencing"]["valid"] is True


def test_queue_clock_jump_an_item_held_twice(tmp_path: Path) -> None:
    outcome = run("queue-clock-jump", tmp_path, duration=8)
    results = outcome.results
    assert (outcome.exit_code, results["passed"], results["valid"]) == (0, True, False), results
    doubles = [a for a in results["checkers"]["queue"]["anomalies"] if a["kind"] == "double-hold"]
    assert doubles
    jumps = jump_starts(outcome)
    for anomaly in doubles:  # the second consumer got the item only after a majority's clocks jumped
        first, second = sorted(anomaly["details"]["holds"], key=lambda h: h["start"])
        assert any(first["start"] <= t <= second["start"] for t in jumps), anomaly["message"]
