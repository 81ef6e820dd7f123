"""results.json computation: counts, throughput, latency quantiles, fault windows, verdicts,
expect/passed/exit code; atomic write and the results/latest link."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.history.events import Event
from harness.results import build_results, fault_windows, outcome, point_latest, quantile, summarize, write_json_atomic

MS = 1_000_000


def history() -> list[Event]:
    rows = [
        (0, 0, "invoke", "acquire", None),
        (1, 0, "invoke", "acquire", None),
        ("nemesis", 1 * MS, "info", "partition-halves", {"phase": "start", "fault_id": 0, "cut": {"1": ["n1"]}}),
        (0, 4 * MS, "ok", "acquire", {"token": 1, "validity_ms": 900}),
        (1, 10 * MS, "fail", "acquire", None),
        (0, 11 * MS, "invoke", "release", {"token": 1}),
        (2, 12 * MS, "invoke", "acquire", None),
        (0, 13 * MS, "ok", "release", {"token": 1}),
        ("nemesis", 2000 * MS, "info", "partition-halves", {"phase": "stop", "fault_id": 0}),
        (2, 2500 * MS, "info", "acquire", None),
        (7, 2600 * MS, "invoke", "acquire", None),  # never completed: counts as info
        ("nemesis", 3000 * MS, "info", "kill", {"phase": "start", "fault_id": 1, "nodes": ["n2"]}),
    ]
    return [Event(index=i, time=t, process=p, type=ty, f=f, value=v, key=None if p == "nemesis" else "L")
            for i, (p, t, ty, f, v) in enumerate(rows)]


def test_summary_counts_latency_throughput_faults() -> None:
    summary = summarize(history(), workload_seconds=2.0, workload_end_ns=2550 * MS)
    assert summary["counts"] == {"acquire": {"ok": 1, "fail": 1, "info": 2}, "release": {"ok": 1, "fail": 0, "info": 0}}
    assert summary["ops_total"] == 5
    assert summary["throughput_ops_s"] == 2.0  # 4 ops invoked before the end of the workload phase
    assert summary["latency_ms"]["acquire"] == {"p50": 4.0, "p95": 10.0, "p99": 10.0, "max": 10.0}
    assert summary["latency_ms"]["release"]["max"] == 2.0
    assert summary["faults"] == [
        {"fault": "partition-halves", "fault_id": 0, "start_s": 0.001, "stop_s": 2.0, "value": {"cut": {"1": ["n1"]}}},
        {"fault": "kill", "fault_id": 1, "start_s": 3.0, "stop_s": None, "value": {"nodes": ["n2"]}},
    ]


def test_fault_windows_without_nemesis() -> None:
    assert fault_windows([e for e in history() if e.process != "nemesis"]) == []


def test_quantile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [quantile(values, q) for q in (0.5, 0.95, 0.99, 1.0)] == [50.0, 95.0, 99.0, 100.0]
    assert quantile([7.0], 0.99) == 7.0
    with pytest.raises(ValueError):
        quantile([], 0.5)


@pytest.mark.parametrize("valid, expect, status, passed, code", [
    (True, "valid", "complete", True, 0),
    (False, "valid", "complete", False, 1),
    ("unknown", "valid", "complete", False, 2),
    (False, "invalid", "complete", True, 0),     # the known anomaly was found
    (True, "invalid", "complete", False, 1),     # the demonstration failed to show it
    ("unknown", "invalid", "complete", False, 2),
    (True, "valid", "incomplete", False, 130),
])
def test_outcome(valid: object, expect: str, status: str, passed: bool, code: int) -> None:
    assert outcome(valid, expect, status) == (passed, code)  # type: ignore[arg-type]


def verdict(name: str, valid: object) -> dict:
    return {"checker": name, "valid": valid, "anomalies": [], "warnings": [], "stats": {}, "elapsed_s": 0.1}


def results_for(verdicts: dict, expect: str = "valid", status: str = "complete") -> dict:
    summary = summarize(history(), workload_seconds=2.0)
    return build_results(name="demo", scenario_file="s.yaml", seed=1, started_at="2026-01-01T00:00:00Z",
                         duration_s=2.0, status=status, expect=expect, verdicts=verdicts, summary=summary,
                         workload="lock", clients=3, nodes=3)


def test_build_results_combines_verdicts() -> None:
    results = results_for({"mutex-graph": verdict("mutex-graph", True), "resource": verdict("resource", False)},
                          expect="invalid")
    assert (results["valid"], results["passed"], results["exit_code"]) == (False, True, 0)
    assert set(results) >= {"name", "scenario_file", "seed", "started_at", "duration_s", "status", "valid",
                            "expect", "passed", "exit_code", "checkers", "counts", "ops_total",
                            "throughput_ops_s", "latency_ms", "faults", "workload", "clients", "nodes"}
    unknown = results_for({"a": verdict("a", True), "b": verdict("b", "unknown")})
    assert (unknown["valid"], unknown["exit_code"]) == ("unknown", 2)
    assert results_for({})["valid"] == "unknown"  # no checker ran: nothing is proven
    interrupted = results_for({}, status="incomplete")
    assert (interrupted["status"], interrupted["valid"], interrupted["exit_code"]) == ("incomplete", "unknown", 130)


def test_atomic_write_and_latest(tmp_path: Path) -> None:
    run_a, run_b = tmp_path / "a-1", tmp_path / "b-2"
    run_a.mkdir(), run_b.mkdir()
    write_json_atomic(run_a / "results.json", {"x": 1})
    assert json.loads((run_a / "results.json").read_text()) == {"x": 1}
    assert [p.name for p in run_a.iterdir()] == ["results.json"]  # no temporary file left
    point_latest(tmp_path, run_a)
    point_latest(tmp_path, run_b)
    latest = tmp_path / "latest"
    assert latest.is_symlink() and latest.resolve() == run_b.resolve()
    assert not Path(latest.readlink()).is_absolute()


def test_run_folder_names_and_scenario_as_run(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from harness.runner import new_run_dir, scenario_as_run
    from harness.scenario.loader import load_scenario

    now = datetime(2026, 11, 26, 6, 0, 0, tzinfo=timezone.utc)
    first = new_run_dir(tmp_path, "partition", now)
    second = new_run_dir(tmp_path, "partition", now)
    assert (first.name, second.name) == ("partition-20261126T060000Z", "partition-20261126T060000Z-2")

    path = tmp_path / "s.yaml"
    path.write_text("# comment\nname: x\nduration: 5\nworkload: {type: register}\n")
    loaded = load_scenario(path)
    assert scenario_as_run(loaded, {"duration": None, "seed": None}) == path.read_text()
    as_run = scenario_as_run(loaded, {"duration": 2.0, "seed": 9})
    assert "overrides: {'duration': 2.0, 'seed': 9}" in as_run.splitlines()[0]
    rerun = tmp_path / "again.yaml"
    rerun.write_text(as_run)
    s = load_scenario(rerun).scenario
    assert (s.duration, s.seed) == (2.0, 9)
