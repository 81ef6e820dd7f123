"""`python -m harness gate` through real redis-server + toxiproxy-server:

- a scenario that meets its expectation and one that does not: exit 1, one failure in the JUnit
  XML naming the checkers and their anomaly counts, run folders and reports that exist;
- Ctrl-C or SIGTERM in the middle of the second of three scenarios: exit 130 / 143, the XML holds
  the finished case, the interrupted one (skipped, with its run folder) and the one never started,
  and no server the gate started is left.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.probes import alive
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "tests" / "scenarios"


def _gate(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness", "gate", *args]


def _cases(xml: Path) -> tuple[ET.Element, dict[str, ET.Element]]:
    suite = ET.parse(xml).getroot().find("testsuite")
    assert suite is not None
    return suite, {c.get("name"): c for c in suite.findall("testcase")}  # type: ignore[misc]


def test_one_failing_and_one_passing_scenario_exit_1_with_one_failure(tmp_path: Path) -> None:
    passing = SCENARIOS / "ci-pause.yaml"  # expect: invalid, and the anomaly is found
    failing = tmp_path / "ci-pause-expect-valid.yaml"
    failing.write_text(passing.read_text().replace("expect: invalid", "expect: valid"))
    xml = tmp_path / "junit.xml"
    done = subprocess.run(_gate(str(passing), str(failing), "--results", str(tmp_path / "results"),
                                "--junit-xml", str(xml)),
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stdout + done.stderr

    table = done.stdout[done.stdout.index("case "):]
    assert "gate: 1 of 2 passed; exit 1" in table
    rows = {line.split()[0]: line.split()[1:4] for line in table.splitlines()[1:3]}
    assert rows == {str(passing): ["INVALID", "invalid", "0"], str(failing): ["INVALID", "valid", "1"]}

    suite, cases = _cases(xml)
    counts = (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped"))
    assert counts == ("2", "1", "0", "0")
    assert cases[str(passing)].find("failure") is None
    failure = cases[str(failing)].find("failure")
    assert failure is not None and failure.get("type") == "anomaly"
    # the message names each checker that found anomalies, with the count results.json has
    failing_run = Path(next(p.get("value") for p in cases[str(failing)].iter("property")
                            if p.get("name") == "run_folder"))  # type: ignore[arg-type]
    checkers = json.loads((failing_run / "results.json").read_text())["checkers"]
    found = {name: len(v["anomalies"]) for name, v in checkers.items() if v["valid"] is False}
    assert found and all(n > 0 for n in found.values())
    message = failure.get("message", "")
    for name, count in found.items():
        assert re.search(rf"\b{name}: {count} anomal(y|ies) \(", message), (message, found)
    assert message.endswith("(expected valid)")
    for case in cases.values():
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        run_dir = Path(props["run_folder"])  # type: ignore[arg-type]
        assert (run_dir / "results.json").is_file() and (run_dir / "history.jsonl").is_file()
        assert f"report: {run_dir / 'report.html'}" in (case.findtext("system-out") or "")
        assert (run_dir / "report.html").is_file()


def _children(pid: int) -> set[int]:
    """Pids whose parent is `pid` (the servers the gate started are its direct children)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == pid:
                found.add(int(entry))
    return found


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_gate_writes_xml_for_what_finished(tmp_path: Path, sig: signal.Signals, code: int) -> None:
    base = (SCENARIOS / "ci-partition.yaml").read_text()
    short = tmp_path / "short.yaml"
    short.write_text(base.replace("name: ci-partition", "name: short").replace("duration: 15", "duration: 2")
                     .split("nemesis:")[0] + "checkers: [mutex-graph]\nexpect: valid\n")
    long = tmp_path / "long.yaml"
    long.write_text(base.replace("name: ci-partition", "name: long").replace("duration: 15", "duration: 120"))
    never = tmp_path / "never.yaml"
    never.write_text(short.read_text().replace("name: short", "name: never"))
    xml = tmp_path / "junit.xml"
    gate = subprocess.Popen(_gate(str(short), str(long), str(never), "--results", str(tmp_path / "results"),
                                  "--junit-xml", str(xml)),
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the long scenario runs: its cluster (3 redis-server + toxiproxy-server) is up
        servers: set[int] = set()

        def long_is_running() -> bool:
            servers.update(_children(gate.pid))
            return len(list((tmp_path / "results").glob("long-*"))) == 1 and len(_children(gate.pid)) >= 4

        wait_until(long_is_running, timeout=120)
        time.sleep(1.0)  # clients and nemesis under way
        gate.send_signal(sig)
        out, err = gate.communicate(timeout=120)
    finally:
        if gate.poll() is None:
            gate.kill()
            gate.communicate()
    assert gate.returncode == code, out + err
    wait_until(lambda: not any(alive(p) for p in servers), timeout=10,
               describe=lambda: [p for p in servers if alive(p)])
    assert len(servers) >= 4

    assert "(interrupted)" in out
    suite, cases = _cases(xml)
    counts = (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped"))
    assert counts == ("3", "0", "0", "2")
    finished, interrupted, not_run = cases[str(short)], cases[str(long)], cases[str(never)]
    assert [child.tag for child in finished if child.tag in ("failure", "error", "skipped")] == []
    assert "interrupted" in interrupted.find("skipped").get("message", "")  # type: ignore[union-attr]
    props = {p.get("name"): p.get("value") for p in interrupted.iter("property")}
    assert props["status"] == "incomplete" and Path(props["run_folder"]).is_dir()  # type: ignore[arg-type]
    assert "not run" in not_run.find("skipped").get("message", "")  # type: ignore[union-attr]
    assert list((tmp_path / "results").glob("never-*")) == []
