"""Sweeps on Dask, swarm fault mixes and shrinking, on real simulated runs of shipped scenarios.

The Dask tests start a real LocalCluster, and a real `dask scheduler` with two `dask worker`
processes on loopback; every verdict per seed must be the same as in this process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.errors import BadInput
from harness.faults.config import NemesisConfig
from harness.faults.schedule import build_schedule
from harness.history.readers import read_history
from harness.scenario.loader import load_scenario
from harness.sim.run import simulate_run
from harness.sweeps import parse_seeds
from harness.sweeps.shrink import shrink_run
from harness.sweeps.sweep import run_sweep
from harness.sweeps.tasks import SeedTask, run_seed

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
SHORT = 10.0  # virtual seconds per seed: enough for the faults and the anomalies, quick to sweep


def _verdicts(outcome) -> dict[tuple[str, int], object]:  # type: ignore[no-untyped-def]
    return {(s.name, r.seed): (r.valid, r.exit_code, json.dumps(r.checkers, sort_keys=True))
            for s in outcome.scenarios.values() for r in s.seeds}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_seed_ranges_parse_or_fail_clearly() -> None:
    assert parse_seeds("0..999") == range(1000)
    assert parse_seeds(" 5 .. 5 ") == range(5, 6)
    for bad in ("5", "9..3", "a..b", "1-3"):
        with pytest.raises(BadInput):
            parse_seeds(bad)


def test_the_same_sweep_inline_on_a_local_cluster_and_on_separate_dask_processes_agrees(tmp_path: Path) -> None:
    scenarios = [SCENARIOS / "partition.yaml", SCENARIOS / "kill-restart-empty-unprotected.yaml"]
    seeds = range(3)
    inline = run_sweep(scenarios, seeds, simulate=True, jobs=1, duration=SHORT, results_dir=tmp_path / "inline")
    local = run_sweep(scenarios, seeds, simulate=True, in_process=True, duration=SHORT,
                      results_dir=tmp_path / "local")
    port = _free_port()
    dask = [str(Path(sys.executable).with_name("dask"))]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    scheduler = subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], cwd=tmp_path, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    workers = [subprocess.Popen([*dask, "worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1",
                                 "--no-dashboard", "--name", f"w{i}"], cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
               for i in range(2)]
    try:
        _wait_for_workers(f"tcp://127.0.0.1:{port}", 2)
        remote = run_sweep(scenarios, seeds, simulate=True, scheduler=f"tcp://127.0.0.1:{port}",
                           duration=SHORT, results_dir=tmp_path / "remote")
    finally:
        for process in [*workers, scheduler]:
            os.killpg(process.pid, signal.SIGTERM)
        for process in [*workers, scheduler]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    assert _verdicts(inline) == _verdicts(local) == _verdicts(remote)
    assert len(_verdicts(inline)) == 6
    assert inline.exit_code == local.exit_code == remote.exit_code == 0
    # the failing runs came back from the workers into the caller's results/, report and all
    kept = [r for s in remote.scenarios.values() for r in s.seeds if r.run_dir]
    assert kept and all((Path(r.run_dir) / "report.html").exists() for r in kept)
    assert all(Path(r.run_dir).parent == tmp_path / "remote" for r in kept)
    page = (remote.sweep_dir / "sweep.html").read_text()  # type: ignore[operator]
    assert "kill-restart-empty" in page and "report.html" in page


def _wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(count, timeout=60)


def test_an_interrupted_sweep_writes_the_summary_of_what_finished(tmp_path: Path) -> None:
    seen = []

    def interrupt_after_two(report: object) -> None:
        seen.append(report)
        if len(seen) == 2:
            raise KeyboardInterrupt

    outcome = run_sweep([SCENARIOS / "partition.yaml"], range(10), simulate=True, duration=3,
                        results_dir=tmp_path, on_report=interrupt_after_two)
    assert outcome.exit_code == 130 and outcome.status == "incomplete"
    summary = json.loads((outcome.sweep_dir / "sweep.json").read_text())  # type: ignore[operator]
    assert summary["status"] == "incomplete" and summary["seeds_run"] == 2 and summary["seeds_planned"] == 10


def test_a_worker_without_redis_server_reports_exit_4_for_its_real_time_task(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", "/nonexistent")
    report = run_seed(SeedTask(str(SCENARIOS / "partition.yaml"), (SCENARIOS / "partition.yaml").read_text(),
                               seed=1, simulate=False, duration=5))
    assert report.exit_code == 4 and report.valid is None and "redis-server" in (report.error or "")


def test_a_bad_scenario_stops_the_sweep_before_any_seed_runs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((SCENARIOS / "partition.yaml").read_text().replace("ttl: 2.0", "ttl: -1"))
    with pytest.raises(BadInput) as error:
        run_sweep([bad], range(3), simulate=True, results_dir=tmp_path / "r")
    assert "workload.ttl" in str(error.value)
    assert not (tmp_path / "r").exists()


def test_swarm_draws_a_subset_of_kinds_and_an_intensity_per_seed() -> None:
    config = NemesisConfig.model_validate({"swarm": {
        "kinds": ["partition-halves", "partition-node", "kill", "pause", "latency"],
        "max_kinds": 2, "interval": [2, 6], "duration": [0.5, 2]}})
    kinds_per_seed = []
    for seed in range(30):
        actions = build_schedule(config, 60.0, seed)
        kinds = {a.fault.kind for a in actions}
        assert 1 <= len(kinds) <= 2
        assert all(a.entry == "swarm" for a in actions)
        kinds_per_seed.append(frozenset(kinds))
        assert build_schedule(config, 60.0, seed) == actions  # seeded: replays
    assert len(set(kinds_per_seed)) >= 5  # seeds really differ in what they try


def test_swarm_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        NemesisConfig.model_validate({"swarm": {"kinds": ["pause"], "max_kinds": 3}})
    with pytest.raises(ValueError):
        NemesisConfig.model_validate({"swarm": {"kinds": ["pause"], "interval": [5, 1]}})


@pytest.mark.parametrize("scenario, checker", [("kill-restart-empty-unprotected.yaml", "mutex-graph"),
                                                ("register-fast.yaml", "register")])
def test_shrinking_a_failure_gives_a_small_reproducer_that_always_fails(tmp_path: Path, scenario: str,
                                                                        checker: str) -> None:
    loaded = load_scenario(SCENARIOS / scenario, simulated=True)
    failing, _ = simulate_run(loaded, seed=3, results_dir=tmp_path, report=False)
    assert failing.results["checkers"][checker]["valid"] is False
    result = shrink_run(failing.run_dir, results_dir=tmp_path / "shrunk")
    assert result.checker == checker
    assert result.after.faults <= 2 and result.after.ops <= 60
    assert result.before.ops > result.after.ops
    reproducer = yaml.safe_load(result.reproducer.read_text())
    assert reproducer["seed"] == 3 and "random" not in reproducer.get("nemesis", {})
    assert (result.run_dir / "report.html").exists()
    histories = []
    for attempt in range(2):  # deterministic: it fails, the same way, every time
        again, _ = simulate_run(load_scenario(result.reproducer, simulated=True),
                                results_dir=tmp_path / f"again{attempt}", report=False)
        assert again.results["checkers"][checker]["valid"] is False
        histories.append((again.run_dir / "history.jsonl").read_bytes())
    assert histories[0] == histories[1]
    assert len(read_history(result.run_dir / "history.jsonl")) == result.after.events


def test_only_a_failing_simulated_run_can_be_shrunk(tmp_path: Path) -> None:
    passing, _ = simulate_run(load_scenario(SCENARIOS / "partition.yaml", overrides={"duration": 3},
                                            simulated=True), results_dir=tmp_path, report=False)
    with pytest.raises(BadInput) as error:
        shrink_run(passing.run_dir)
    assert "no failing checker" in str(error.value)
    results = json.loads((passing.run_dir / "results.json").read_text())
    results["mode"] = "real"
    (passing.run_dir / "results.json").write_text(json.dumps(results))
    with pytest.raises(BadInput) as error:
        shrink_run(passing.run_dir)
    assert "real time" in str(error.value)
    shutil.rmtree(passing.run_dir)
    with pytest.raises(BadInput):
        shrink_run(passing.run_dir)
