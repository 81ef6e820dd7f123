"""Runs that tested nothing never pass, and SIGTERM keeps the results (real redis-server +
toxiproxy-server; the environment is broken on purpose through the cluster factory)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from harness import exitcodes
from harness.history.events import pair_operations
from harness.history.readers import read_history
from harness.runner import make_cluster, run_scenario
from tests.support.interrupted_run import interrupt_a_recording_run
from tests.support.probes import alive

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "tests" / "scenarios"

QUIET_LOCK = """\
name: quiet-lock
seed: 1
duration: 4
settle: 0
clients: {clients}
cluster: {{nodes: 3}}
workload: {{type: lock, ttl: 2.0, rate: 5, use_ms: 5, socket_timeout: 0.3}}
"""


def scenario(tmp_path: Path, clients: int = 3) -> Path:
    path = tmp_path / "quiet-lock.yaml"
    path.write_text(QUIET_LOCK.format(clients=clients))
    return path


def broken_clients(urls_for: Any):  # type: ignore[no-untyped-def]
    """A cluster factory whose workers get `urls_for(real_urls)` instead of their proxies."""
    def factory(s, run_dir):  # type: ignore[no-untyped-def]
        cluster = make_cluster(s, run_dir)
        real = cluster.client_urls
        cluster.client_urls = lambda slot: urls_for(real(slot))
        return cluster
    return factory


def test_workers_that_die_make_an_environment_failure(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    with open(out, "w") as stream:
        outcome = run_scenario(scenario(tmp_path), results_dir=tmp_path / "r", out=stream, progress=stream,
                               cluster_factory=broken_clients(lambda urls: ["http://" + u.split("://")[1]
                                                                            for u in urls]))
    results = outcome.results
    assert outcome.exit_code == exitcodes.ENVIRONMENT
    assert (results["status"], results["valid"], results["passed"]) == ("environment-failure", "unknown", False)
    assert "3 client worker(s) died of an exception" in results["reason"] and len(results["worker_errors"]) == 3
    summary = out.read_text()
    assert "[environment-failure]" in summary and "reason: 3 client worker(s) died" in summary
    html = (outcome.run_dir / "report.html").read_text()
    assert "ENVIRONMENT FAILURE" in html and "client worker(s) died" in html


def test_a_run_where_no_client_op_completed_is_an_environment_failure(tmp_path: Path) -> None:
    # every worker talks to a port nothing listens on: every op fails or is info, nothing is tested
    outcome = run_scenario(scenario(tmp_path), results_dir=tmp_path / "r", out=open(os.devnull, "w"),
                           progress=open(os.devnull, "w"),
                           cluster_factory=broken_clients(lambda urls: [f"redis://127.0.0.1:1/{i}"
                                                                        for i in range(len(urls))]))
    results = outcome.results
    ops = [op for op in pair_operations(read_history(outcome.run_dir / "history.jsonl")) if op.process < 1000]
    assert ops and all(op.type in ("fail", "info") for op in ops)  # the environment really failed
    assert outcome.exit_code == exitcodes.ENVIRONMENT and results["status"] == "environment-failure"
    assert results["valid"] == "unknown" and "no client operation completed ok" in results["reason"]


def test_unknown_outcomes_outside_fault_windows_make_the_verdict_unknown(tmp_path: Path) -> None:
    def slow_links(s, run_dir):  # type: ignore[no-untyped-def]
        cluster = make_cluster(s, run_dir)
        start = cluster.start

        def start_then_slow_down() -> None:
            start()  # not a scheduled fault: every link of clients 0..3 answers after the socket timeout
            for node in cluster.node_names:
                cluster.add_toxic(node, "latency", {"latency": 1500}, clients=[0, 1, 2, 3])
        cluster.start = start_then_slow_down
        return cluster

    outcome = run_scenario(scenario(tmp_path, clients=5), results_dir=tmp_path / "r", cluster_factory=slow_links,
                           out=open(os.devnull, "w"), progress=open(os.devnull, "w"))
    results = outcome.results
    share = results["info_outside_faults"]
    assert share["share"] > 0.2 and share["max_info_share"] == 0.2 and results["faults"] == []
    assert all(v["valid"] is True for v in results["checkers"].values())  # the checkers alone said valid
    assert (results["valid"], results["exit_code"], results["passed"]) == ("unknown", exitcodes.UNKNOWN, False)
    assert "unknown outcome (info), more than max_info_share 0.2" in results["reason"]


def test_a_healthy_run_with_faults_stays_valid(tmp_path: Path) -> None:
    outcome = run_scenario(SCENARIOS / "ci-partition.yaml", results_dir=tmp_path / "r",
                           out=open(os.devnull, "w"), progress=open(os.devnull, "w"))
    results = outcome.results
    assert (results["status"], results["valid"], results["exit_code"], results["reason"]) == (
        "complete", True, 0, None), results.get("info_outside_faults")
    assert results["info_outside_faults"]["ops"] > 0


def test_sigterm_kills_the_processes_keeps_the_history_and_writes_incomplete_results(tmp_path: Path) -> None:
    run = interrupt_a_recording_run(SCENARIOS / "ci-partition.yaml", tmp_path / "r", signal.SIGTERM)
    assert run.returncode == 143, run.out + run.err
    results = run.results
    assert (results["status"], results["valid"], results["passed"], results["exit_code"]) == (
        "incomplete", "unknown", False, 143)
    assert results["reason"] == "interrupted by SIGTERM"
    events = read_history(run.run_dir / "history.jsonl")
    assert len(events) > 10 and results["ops_total"] == len(pair_operations(events))
    assert (run.run_dir / "report.html").exists()
    assert len(run.cluster_pids) == 4 and [pid for pid in run.cluster_pids if alive(pid)] == []
    assert "interrupted (SIGTERM)" in run.err and "[incomplete]" in run.out
