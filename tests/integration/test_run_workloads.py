"""The queue and register workloads end to end (short, no faults): the history they record
has the shape the checkers read (see "History contents per workload")."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.history.events import pair_operations
from harness.history.readers import read_history
from harness.runner import run_scenario
from harness.workload.base import FINAL_PROCESS_BASE

pytestmark = pytest.mark.integration


def scenario(tmp_path: Path, name: str, workload: str, **top: object) -> Path:
    lines = [f"name: {name}-smoke", "seed: 3", "duration: 5", "settle: 0.2", "clients: 3",
             "cluster: {nodes: 3}", f"workload: {workload}"]
    lines += [f"{k}: {v}" for k, v in top.items()]
    path = tmp_path / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_queue_workload_history(tmp_path: Path) -> None:
    path = scenario(tmp_path, "queue", "{type: queue, producers: 1, put_rate: 20, get_rate: 20, ttl: 1.0, "
                              "crash_probability: 0.2, release_probability: 0.2, extend_probability: 0.3, "
                              "drain_timeout: 10}")
    outcome = run_scenario(path, results_dir=tmp_path / "r")
    assert outcome.exit_code == 0, outcome.results["checkers"]
    ops = pair_operations(read_history(outcome.run_dir / "history.jsonl"))
    puts = [op for op in ops if op.f == "put" and op.type == "ok"]
    assert len(puts) > 20
    assert len({op.value["item"] for op in puts}) == len(puts)               # unique payloads
    assert all(op.process % 3 == 0 for op in puts)                           # slot 0 produces
    gets = [op for op in ops if op.f == "get" and op.type == "ok" and op.result]
    assert gets and all(set(op.result) == {"item", "id", "token", "validity_ms"} for op in gets)
    assert {op.f for op in ops} >= {"put", "get", "consume", "release", "extend", "crash", "drain"}
    crashes = [op for op in ops if op.f == "crash"]
    assert all(op.type == "info" for op in crashes)
    for crash in crashes:  # the worker went on as a new process id, never the crashed one
        assert not any(op.process == crash.process and op.start > crash.start for op in ops)
    drain = [op for op in ops if op.f == "drain"]
    assert len(drain) == 1 and drain[0].type == "ok" and drain[0].result == {"size": 0}
    assert drain[0].process >= FINAL_PROCESS_BASE
    delivered = {op.result["item"] for op in gets}
    assert {op.value["item"] for op in puts} <= delivered                    # the drain got the rest


def test_register_workload_history(tmp_path: Path) -> None:
    path = scenario(tmp_path, "register", "{type: register, keys: 2, rate: 30, consistency: linearizable}")
    outcome = run_scenario(path, results_dir=tmp_path / "r")
    assert outcome.exit_code == 0, outcome.results["checkers"]
    ops = pair_operations(read_history(outcome.run_dir / "history.jsonl"))
    writes = [op for op in ops if op.f == "write"]
    assert len(writes) > 20 and all(op.type == "ok" and op.result == op.value for op in writes)
    for key in ("k0", "k1"):
        values = [op.value for op in writes if op.key == key]
        assert len(values) == len(set(values))                               # unique per key
    final = [op for op in ops if op.process >= FINAL_PROCESS_BASE]
    assert [(op.f, op.key) for op in final] == [("read", "k0"), ("read", "k1")]
    for op in final:  # the final reads see a written value (which one depends on concurrent writes)
        assert op.type == "ok" and op.result in {w.value for w in writes if w.key == op.key}
    rate = outcome.results["throughput_ops_s"]
    assert 0 < rate <= 3 * 30 * 1.2                                          # paced at `rate` per client
