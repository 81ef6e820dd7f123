"""End to end through real redis-server + toxiproxy-server: `python -m harness run`.

- a 15 s lock scenario with a client cut from a majority, then random halves: every op is
  matched, the nemesis events are there, the cut client really saw failures/timeouts,
  results.json / latest / run.log are written, and no server process is left behind;
- the CI gate: a known-broken scenario with `expect: invalid` exits 0 (passed, valid false),
  and the same scenario with `expect: valid` exits 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness.history.events import nemesis_events, pair_operations
from harness.history.readers import read_history
from harness.runner import make_cluster, run_scenario
from harness.workload.base import FINAL_PROCESS_BASE
from tests.support.interrupted_run import interrupt_a_recording_run
from tests.support.probes import alive

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "tests" / "scenarios"



class PidWatcher:
    """Remembers every pid the cluster reports while the run goes (for the leak check)."""

    def __init__(self) -> None:
        self.cluster = None
        self.pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def factory(self, scenario, run_dir):  # type: ignore[no-untyped-def]
        self.cluster = make_cluster(scenario, run_dir)
        self._thread.start()
        return self.cluster

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.pids.update(self.cluster.pids())
            except Exception:  # noqa: BLE001 - a pid list taken mid-restart; try again
                pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def test_partition_scenario_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    watcher = PidWatcher()
    try:
        outcome = run_scenario(SCENARIOS / "ci-partition.yaml", results_dir=tmp_path, cluster_factory=watcher.factory)
    finally:
        watcher.stop()
    out, err = capsys.readouterr()

    # no redis-server or toxiproxy-server left: every pid the cluster ever had is gone
    assert len(watcher.pids) >= 4, watcher.pids  # 3 nodes + toxiproxy were seen running
    assert [pid for pid in watcher.pids if alive(pid)] == []

    assert outcome.exit_code == 0, out
    results = outcome.results
    assert results["valid"] is True and results["passed"] is True and results["status"] == "complete"
    assert set(results["checkers"]) == {"mutex-graph", "fencing", "resource"}
    assert "ci-partition: VALID (expected valid) -> passed, exit 0" in out
    assert "faults active" in err  # the progress line

    run_dir = outcome.run_dir
    assert json.loads((run_dir / "results.json").read_text()) == json.loads(json.dumps(results))
    assert (tmp_path / "latest").resolve() == run_dir.resolve()
    assert (run_dir / "scenario.yaml").read_text() == (SCENARIOS / "ci-partition.yaml").read_text()
    assert "starting the cluster" in (run_dir / "run.log").read_text()

    events = read_history(run_dir / "history.jsonl")
    invokes = [e for e in events if e.type == "invoke"]
    completions = [e for e in events if e.process != "nemesis" and e.type != "invoke"]
    assert len(invokes) == len(completions) > 20  # every op is matched
    ops = pair_operations(events)
    assert all(op.complete is not None for op in ops)
    assert {op.f for op in ops} >= {"acquire", "use", "release"}
    assert results["ops_total"] == len(ops)

    faults = nemesis_events(events)
    windows = {(e.f, e.value["phase"]): e for e in faults}
    assert set(windows) == {("partition-client", "start"), ("partition-client", "stop"),
                            ("partition-halves", "start"), ("partition-halves", "stop")}
    cut_start, cut_stop = windows[("partition-client", "start")], windows[("partition-client", "stop")]
    assert cut_start.value["client"] == 0 and len(cut_start.value["isolated_from"]) == 2
    assert [w["fault"] for w in results["faults"]] == ["partition-client", "partition-halves"]

    # the cut really happened: client 0's ops invoked inside the window failed or timed out
    def slot_of(op) -> int:  # type: ignore[no-untyped-def]
        return op.process % 3 if op.process < FINAL_PROCESS_BASE else -1

    inside = [op for op in ops if slot_of(op) == 0 and cut_start.time < op.start
              and op.complete.time < cut_stop.time]
    assert inside, "client 0 made no op during its cut"
    assert all(op.type in ("fail", "info") for op in inside if op.f == "acquire")
    assert any(op.type in ("fail", "info") for op in inside)
    assert not any(op.f == "acquire" and op.type == "ok" for op in inside)
    # ... while the other clients still had a majority and kept acquiring
    others = [op for op in ops if slot_of(op) in (1, 2) and op.f == "acquire" and op.type == "ok"
              and cut_start.time < op.start and op.complete.time < cut_stop.time]
    assert others


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "run", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_expect_invalid_passes_when_the_anomaly_is_found_and_the_gate_fails_otherwise(tmp_path: Path) -> None:
    scenario = SCENARIOS / "ci-pause.yaml"
    done = run_cli(str(scenario), "--results", str(tmp_path / "a"), cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((tmp_path / "a" / "latest" / "results.json").read_text())
    assert (results["expect"], results["valid"], results["passed"], results["exit_code"]) == ("invalid", False, True, 0)
    assert results["checkers"]["resource"]["valid"] is False
    assert any(a["kind"] == "concurrent-use" for a in results["checkers"]["resource"]["anomalies"])

    as_valid = tmp_path / "as-valid.yaml"
    as_valid.write_text(scenario.read_text().replace("expect: invalid", "expect: valid"))
    done = run_cli(str(as_valid), "--results", str(tmp_path / "b"), cwd=REPO)
    assert done.returncode == 1, done.stdout + done.stderr
    results = json.loads((tmp_path / "b" / "latest" / "results.json").read_text())
    assert (results["expect"], results["valid"], results["passed"], results["exit_code"]) == ("valid", False, False, 1)
    assert "INVALID (expected valid) -> FAILED, exit 1" in done.stdout


def test_invalid_scenario_exits_3_before_anything_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((SCENARIOS / "ci-pause.yaml").read_text().replace("ttl: 0.5", "ttl: -1"))
    done = run_cli(str(bad), "--results", str(tmp_path / "r"), cwd=REPO)
    assert done.returncode == 3
    assert f"{bad}:14: field 'workload.ttl'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "r").exists()  # no run folder: nothing started


def test_ctrl_c_kills_the_processes_keeps_the_history_and_writes_incomplete_results(tmp_path: Path) -> None:
    import signal

    run = interrupt_a_recording_run(SCENARIOS / "ci-partition.yaml", tmp_path / "r", signal.SIGINT)
    assert run.returncode == 130, run.out + run.err
    results = run.results
    assert (results["status"], results["valid"], results["passed"], results["exit_code"]) == (
        "incomplete", "unknown", False, 130)
    events = read_history(run.run_dir / "history.jsonl")
    assert len(events) > 10 and results["ops_total"] == len(pair_operations(events))
    assert len(run.cluster_pids) == 4 and [pid for pid in run.cluster_pids if alive(pid)] == []
    assert "interrupted" in run.err


def test_missing_redis_server_exits_4(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": str(tmp_path / "empty-bin"), "REDIS_SERVER": ""}
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(SCENARIOS / "ci-pause.yaml"),
                           "--results", str(tmp_path / "r")], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "redis-server not found" in done.stderr and "Traceback" not in done.stderr
