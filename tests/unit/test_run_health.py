"""Runs that tested nothing never pass: harness.run_health's judgements, their effect on
results.json (status, reason, valid, exit code) and the RLIMIT_NOFILE plan."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from harness import exitcodes
from harness.cluster.fdlimit import descriptors_needed, plan_soft_limit
from harness.history.events import Event, pair_operations
from harness.results import build_results, fault_windows, summarize
from harness.run_health import environment_problem, info_outside_faults, info_share_problem, scan_logs

S = 1_000_000_000
REPO = Path(__file__).resolve().parents[2]


def ops_history(outcomes: list[tuple[float, str]], faults: list[tuple[float, float | None]] = ()) -> list[Event]:
    """One op per (invoke time s, completion type), each by its own process, plus fault windows."""
    rows: list[tuple[object, int, str, str, object]] = []
    for i, (start, stop) in enumerate(faults):
        rows.append(("nemesis", int(start * S), "info", "partition-halves", {"phase": "start", "fault_id": i}))
        if stop is not None:
            rows.append(("nemesis", int(stop * S), "info", "partition-halves", {"phase": "stop", "fault_id": i}))
    for p, (at, kind) in enumerate(outcomes):
        rows.append((p, int(at * S), "invoke", "acquire", None))
        rows.append((p, int(at * S) + 1000, kind, "acquire", None))
    rows.sort(key=lambda r: r[1])
    return [Event(index=i, time=t, process=p, type=ty, f=f, value=v) for i, (p, t, ty, f, v) in enumerate(rows)]


def test_info_share_counts_only_ops_outside_fault_windows_and_their_grace() -> None:
    events = ops_history([(0.5, "ok"), (1.5, "info"), (3.0, "info"), (4.5, "info"), (9.0, "info"), (10.0, "ok")],
                         faults=[(1.0, 3.5), (8.0, None)])
    share = info_outside_faults(pair_operations(events), fault_windows(events), grace_s=1.0)
    # in: 1.5 and 3.0 (window), 4.5 (grace to 4.5), 9.0 and 10.0 (open window); out: 0.5 (ok)
    assert (share.info, share.ops) == (0, 1)
    share = info_outside_faults(pair_operations(events), fault_windows(events), grace_s=0.5)
    assert (share.info, share.ops) == (1, 2) and share.share == 0.5


def test_info_share_problem_only_above_the_limit() -> None:
    events = ops_history([(t, "info" if t < 3 else "ok") for t in range(10)])
    share = info_outside_faults(pair_operations(events), [])
    assert (share.info, share.ops) == (3, 10)
    assert info_share_problem(share, 0.3) is None
    reason = info_share_problem(share, 0.2)
    assert reason is not None and "3 of 10" in reason and "max_info_share 0.2" in reason


def test_environment_problems() -> None:
    ops = pair_operations(ops_history([(0.1, "info"), (0.2, "info")]))
    assert "no client operation completed ok" in environment_problem(worker_errors=[], workload_ops=ops,
                                                                  log_problems=[])
    assert "no client operation completed ok" in environment_problem(worker_errors=[], workload_ops=[],
                                                                  log_problems=[])
    died = environment_problem(worker_errors=["client 0: ValueError: ttl", "client 1: ValueError: ttl"],
                               workload_ops=ops, log_problems=[])
    assert "2 client worker(s) died" in died and "ValueError: ttl" in died
    refused = pair_operations(ops_history([(0.1, "info"), (0.2, "fail")]))
    assert "1 failed, 1 with an unknown outcome" in environment_problem(worker_errors=[], workload_ops=refused,
                                                                       log_problems=[])
    fine = pair_operations(ops_history([(0.1, "info"), (0.2, "ok")]))
    assert environment_problem(worker_errors=[], workload_ops=fine, log_problems=[]) is None
    assert "toxiproxy.log" in environment_problem(worker_errors=[], workload_ops=fine,
                                                  log_problems=["toxiproxy.log: 3 line(s)"])


def test_scan_logs_finds_resource_failures_in_server_logs(tmp_path: Path) -> None:
    (tmp_path / "nodes" / "n1").mkdir(parents=True)
    (tmp_path / "nodes" / "n1" / "redis.log").write_text("1:M Ready to accept connections\n")
    (tmp_path / "toxiproxy.log").write_text(
        "level=info msg=Started proxy\n"
        + 'level=error msg="Error while accepting client" err="accept tcp 127.0.0.1:4000: accept4: too many '
          'open files"\n' * 7)
    (tmp_path / "run.log").write_text("a message quoting too many open files\n")  # ours: not a server log
    assert scan_logs(tmp_path) == [
        "toxiproxy.log: 7 line(s) like 'level=error msg=\"Error while accepting client\" err=\"accept tcp "
        "127.0.0.1:4000: accept4: too many open files\"'"]
    (tmp_path / "nodes" / "n1" / "redis.log").write_text("# Error registering fd event: Too many open files\n")
    assert [line.split(":")[0] for line in scan_logs(tmp_path)] == ["nodes/n1/redis.log", "toxiproxy.log"]


def results_with(events: list[Event], valid: object, **kwargs: object) -> dict:
    verdict = {"checker": "mutex-graph", "valid": valid, "anomalies": [], "warnings": [], "stats": {}}
    return build_results(name="demo", scenario_file="s.yaml", seed=1, started_at="2026-01-01T00:00:00Z",
                         duration_s=2.0, status="complete", expect=kwargs.pop("expect", "valid"),  # type: ignore[arg-type]
                         verdicts={"mutex-graph": verdict}, summary=summarize(events, workload_seconds=2.0),
                         workload="lock", clients=3, nodes=3, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("expect", ["valid", "invalid"])
def test_an_environment_failure_is_never_valid_and_exits_4(expect: str) -> None:
    events = ops_history([(0.1, "info")])
    results = results_with(events, True, expect=expect, environment_problem="no client operation completed")
    assert (results["status"], results["valid"], results["passed"], results["exit_code"]) == (
        "environment-failure", "unknown", False, exitcodes.ENVIRONMENT)
    assert results["reason"] == "no client operation completed"
    found = results_with(events, False, expect=expect, environment_problem="worker died")
    assert (found["valid"], found["passed"], found["exit_code"]) == (False, False, exitcodes.ENVIRONMENT)


def test_too_many_unknown_outcomes_turn_valid_into_unknown_but_keep_an_anomaly() -> None:
    events = ops_history([(0.1, "ok")])
    results = results_with(events, True, unknown_reason="81% info")
    assert (results["status"], results["valid"], results["exit_code"], results["reason"]) == (
        "complete", "unknown", exitcodes.UNKNOWN, "81% info")
    invalid = results_with(events, False, unknown_reason="81% info")
    assert (invalid["valid"], invalid["exit_code"], invalid["reason"]) == (False, 1, None)
    assert results_with(events, True)["reason"] is None


def test_fd_plan() -> None:
    assert descriptors_needed(32, 15, proxied=True) > 1024 > descriptors_needed(5, 5, proxied=True)
    assert descriptors_needed(5, 5, proxied=False) < descriptors_needed(5, 5, proxied=True)
    assert plan_soft_limit(1024, 4096, 2000) == 2000        # raised to what is needed
    assert plan_soft_limit(4096, 4096, 2000) == 4096        # enough already: unchanged
    assert plan_soft_limit(1024, 1500, 2000) is None        # the hard limit is too low
    assert plan_soft_limit(1024, resource.RLIM_INFINITY, 2000) == 2000


SCENARIO = """\
name: wide
duration: 5
clients: 32
cluster: {nodes: 15}
workload: {type: lock}
"""


def run_limited(tmp_path: Path, soft: int, hard: int, code: str) -> subprocess.CompletedProcess[str]:
    """`code` in a child Python whose RLIMIT_NOFILE is (soft, hard)."""
    prelude = f"import resource; resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard}))\n"
    return subprocess.run([sys.executable, "-c", prelude + code], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_a_run_that_needs_more_files_than_the_hard_limit_exits_4_before_anything_starts(tmp_path: Path) -> None:
    scenario = tmp_path / "wide.yaml"
    scenario.write_text(SCENARIO)
    done = run_limited(tmp_path, 512, 1024, "import sys; from harness.cli import main; "
                       f"sys.exit(main(['run', {str(scenario)!r}, '--results', {str(tmp_path / 'r')!r}]))")
    assert done.returncode == exitcodes.ENVIRONMENT, done.stdout + done.stderr
    needed = descriptors_needed(32, 15, proxied=True)
    assert f"needs about {needed} open files" in done.stderr and "hard limit RLIMIT_NOFILE is 1024" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "r").exists()


def test_the_soft_limit_is_raised_up_to_the_hard_limit(tmp_path: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    needed = descriptors_needed(32, 15, proxied=True)
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"this machine's hard limit {hard} is below {needed}")
    done = run_limited(tmp_path, 512, hard, "import resource; from harness.cluster.fdlimit import "
                       "ensure_descriptors; print(ensure_descriptors(32, 15, proxied=True), "
                       "resource.getrlimit(resource.RLIMIT_NOFILE)[0])")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [f"({needed},", f"{needed})", str(needed)]
