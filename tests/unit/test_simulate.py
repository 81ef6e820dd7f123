"""`harness simulate` end to end: determinism, the run folder, sweeps and their exit codes,
the faults only a simulator can make, and the simulator's power to find what is broken.

Every run here is a real simulated run of a shipped scenario (shortened): the real
majorityredis library, the real workloads, faults and checkers, on virtual time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import BadInput
from harness.history.readers import read_history
from harness.scenario.loader import load_scenario
from harness.sim.run import simulate_run
from harness.sweeps.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


def _load(name: str, **overrides: object):  # type: ignore[no-untyped-def]
    return load_scenario(SCENARIOS / name, overrides=overrides, simulated=True)


def test_the_same_seed_gives_a_byte_identical_history_across_processes(tmp_path: Path) -> None:
    """Twice in this process and once in another with a different hash seed: one history."""
    loaded = _load("partition.yaml", duration=8)
    first, _ = simulate_run(loaded, seed=11, results_dir=tmp_path / "a", report=False)
    second, _ = simulate_run(loaded, seed=11, results_dir=tmp_path / "b", report=False)
    other, _ = simulate_run(loaded, seed=12, results_dir=tmp_path / "c", report=False)
    code = ("import sys; from pathlib import Path; from harness.scenario.loader import load_scenario; "
            "from harness.sim.run import simulate_run; "
            f"l = load_scenario({str(SCENARIOS / 'partition.yaml')!r}, overrides={{'duration': 8}}, simulated=True); "
            f"simulate_run(l, seed=11, results_dir=Path({str(tmp_path / 'd')!r}), report=False)")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env, timeout=300)
    (third_dir,) = [p for p in (tmp_path / "d").iterdir() if p.is_dir() and not p.is_symlink()]
    history = (first.run_dir / "history.jsonl").read_bytes()
    assert history == (second.run_dir / "history.jsonl").read_bytes()
    assert history == (third_dir / "history.jsonl").read_bytes()
    assert history != (other.run_dir / "history.jsonl").read_bytes()  # the seed matters
    events = read_history(first.run_dir / "history.jsonl")
    assert sum(1 for e in events if e.type == "ok" and e.f == "acquire") > 20  # it really exercised the lock


def test_one_seed_makes_a_normal_run_folder_and_exits_like_a_run(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["simulate", str(SCENARIOS / "partition.yaml"), "--seed", "7", "--duration", "6",
                 "--results", str(tmp_path)])
    assert code == 0
    run_dir = (tmp_path / "latest").resolve()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["mode"] == "simulation" and results["seed"] == 7 and results["valid"] is True
    assert results["simulation"]["virtual_s"] >= 6 and results["simulation"]["node_commands"] > 100
    assert {"history.jsonl", "scenario.yaml", "results.json", "run.log", "report.html"} <= {
        p.name for p in run_dir.iterdir()}
    assert "duration: 6" in (run_dir / "scenario.yaml").read_text()
    assert main(["runs", str(tmp_path)]) == 0
    assert run_dir.name in capsys.readouterr().out


def test_a_sweep_of_an_invalid_scenario_keeps_the_failing_seeds_and_passes(tmp_path: Path) -> None:
    outcome = run_sweep([SCENARIOS / "kill-restart-empty-unprotected.yaml"], range(3), duration=10,
                        results_dir=tmp_path)
    (sweep,) = outcome.scenarios.values()
    assert outcome.exit_code == 0 and sweep.failing  # expect: invalid, and the anomaly was found
    summary = json.loads((outcome.sweep_dir / "sweep.json").read_text())  # type: ignore[operator]
    (row_set,) = summary["scenarios"]
    assert row_set["seeds_run"] == 3 and row_set["failing_seeds"] == sweep.failing
    for row in row_set["seeds"]:
        kept = row["run_dir"]
        assert (kept is not None) == (row["valid"] is not True)
        if kept:
            assert (Path(kept) / "report.html").exists()
    assert (outcome.sweep_dir / "sweep.html").exists()  # type: ignore[operator]


def test_a_sweep_that_finds_an_anomaly_where_none_is_expected_exits_1(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The simulator's power: break the library's validity rule (a hold counted as ten times its
    ttl) and a sweep of a scenario that expects no anomaly must fail."""
    import majorityredis.lock as lock_module
    from majorityredis.validity import hold_deadline

    monkeypatch.setattr(lock_module, "hold_deadline",
                        lambda started, ttl, factor, ms: hold_deadline(started, 10 * ttl, factor, ms))
    outcome = run_sweep([SCENARIOS / "sim" / "client-pause-in-acquire.yaml"], range(3), duration=12,
                        results_dir=tmp_path, keep_all=True)
    (sweep,) = outcome.scenarios.values()
    assert outcome.exit_code == 1 and sweep.failing
    assert all(row.run_dir for row in sweep.seeds)  # --keep-all


def test_the_pause_in_acquire_scenario_really_pauses_clients_inside_calls(tmp_path: Path) -> None:
    """The fault landed: paused acquires take longer than the ttl and none of them is handed out."""
    run, _ = simulate_run(_load("sim/client-pause-in-acquire.yaml", duration=12), results_dir=tmp_path,
                          report=False)
    events = read_history(run.run_dir / "history.jsonl")
    invoked = {}
    slow = []
    for event in events:
        if event.f != "acquire":
            continue
        if event.type == "invoke":
            invoked[event.process] = event.time
        elif event.process in invoked:
            if event.time - invoked.pop(event.process) > 1.0e9:  # longer than the 1 s ttl
                slow.append(event.type)
    assert slow and all(kind != "ok" for kind in slow)
    assert run.results["valid"] is True


def test_a_crashed_client_leaves_its_op_incomplete_and_comes_back_as_a_new_process(tmp_path: Path) -> None:
    scenario = tmp_path / "crash.yaml"
    scenario.write_text((SCENARIOS / "partition.yaml").read_text().split("nemesis:")[0] + (
        "nemesis:\n  schedule:\n    - {fault: client-crash, clients: [0], start: 2, every: 3, duration: 1}\n"
        "checkers: [mutex-graph, fencing, resource]\nexpect: valid\n"))
    run, _ = simulate_run(load_scenario(scenario, overrides={"duration": 10}, simulated=True),
                          results_dir=tmp_path / "r", report=False)
    events = read_history(run.run_dir / "history.jsonl")
    processes = {e.process for e in events if isinstance(e.process, int) and e.process % 5 == 0
                 and e.process < 1_000_000}
    assert len(processes) >= 3  # slot 0 restarted as new processes after its crashes
    crashes = [e for e in events if e.process == "nemesis" and e.f == "client-crash"]
    assert len(crashes) >= 4


def test_the_real_runner_refuses_simulation_only_faults_naming_them() -> None:
    with pytest.raises(BadInput) as error:
        load_scenario(SCENARIOS / "sim" / "client-pause-in-acquire.yaml")
    assert "client-pause" in str(error.value) and "nemesis.schedule[0].fault" in str(error.value)
    assert "client-pause-in-acquire.yaml:25:" in str(error.value)  # the line of that entry
    assert main(["run", str(SCENARIOS / "sim" / "client-pause-in-acquire.yaml")]) == 3


def test_an_external_cluster_cannot_be_simulated() -> None:
    with pytest.raises(BadInput) as error:
        simulate_run(load_scenario(SCENARIOS / "external.yaml", simulated=True))
    assert "cluster.mode" in str(error.value)


def test_no_simulated_world_outlives_its_run(tmp_path: Path) -> None:
    """A sweep's worker runs thousands of seeds in one process: each world (cluster, nodes, links,
    Lua runtimes, client greenlets) must be freed when its run ends. Before the fix, the fault
    ledger's WeakKeyDictionary held its own key, and a 2,000-seed sweep grew each worker by GBs."""
    import gc

    from harness.sim.cluster import SimCluster

    loaded = _load("kill-restart.yaml", duration=6)  # faults that take the node-holds ledger
    for seed in range(2):
        outcome, _ = simulate_run(loaded, seed=seed, results_dir=tmp_path, report=False)
        assert outcome.results["faults"]  # the fault windows really ran
    gc.collect()
    assert [o for o in gc.get_objects() if isinstance(o, SimCluster)] == []
