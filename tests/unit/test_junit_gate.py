"""The gate's logic (worst exit code, validation first, interruption) and its JUnit XML, on case
outcomes made here: structure and counts as JUnit readers expect them (checked with ElementTree
and with junitparser, a reader CI tooling uses), failure messages naming checker and count.
`harness check --junit-xml` and `harness run --junit-xml` on real files (no servers needed).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import junitparser
import pytest

from harness import cli
from harness.errors import BadInput
from harness.gate import Case, CaseOutcome, GateResult, run_gate, summary_table
from harness.junit import failure_message, write_junit

REPO = Path(__file__).resolve().parents[2]
PORCUPINE = REPO / "tests" / "data" / "porcupine" / "etcd"


def _anomaly(kind: str) -> dict:
    return {"kind": kind, "message": f"a {kind} between ops 3 and 7", "indices": [3, 7], "details": {}}


def _verdict(checker: str, valid: object, anomalies: int = 0, kind: str = "overlapping-holds") -> dict:
    return {"checker": checker, "valid": valid, "anomalies": [_anomaly(kind) for _ in range(anomalies)],
            "warnings": [], "stats": {}, "elapsed_s": 0.01}


def _outcome(name: str, code: int, tmp_path: Path | None = None, **kwargs: object) -> CaseOutcome:
    run_dir = None
    report = None
    if tmp_path is not None:
        run_dir = tmp_path / f"{name}-20260101T000000Z"
        run_dir.mkdir()
        report = run_dir / "report.html"
        report.write_text("<html></html>")
    return CaseOutcome(name=name, exit_code=code, run_dir=run_dir, report=report, time_s=1.5, **kwargs)  # type: ignore[arg-type]


def _counts(element: ET.Element) -> dict[str, int]:
    return {k: int(element.get(k)) for k in ("tests", "failures", "errors", "skipped")}  # type: ignore[arg-type]


def _check_structure(path: Path) -> ET.Element:
    """Root testsuites > testsuite > testcase; every count equal to what the testcases hold."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    cases = suites[0].findall("testcase")
    by_kind = {kind: sum(1 for c in cases if c.find(kind) is not None) for kind in ("failure", "error", "skipped")}
    expected = {"tests": len(cases), "failures": by_kind["failure"], "errors": by_kind["error"],
                "skipped": by_kind["skipped"]}
    assert _counts(root) == expected and _counts(suites[0]) == expected
    for case in cases:
        assert case.get("classname") and case.get("name") and float(case.get("time")) >= 0  # type: ignore[arg-type]
        results = [child for child in case if child.tag in ("failure", "error", "skipped")]
        assert len(results) <= 1 and all(r.get("message") for r in results)
    # a reader used by CI tooling agrees on the counts
    suite = next(iter(junitparser.JUnitXml.fromfile(str(path))))
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == tuple(expected.values())
    return suites[0]


def test_junit_of_a_gate_has_one_testcase_per_case_and_matching_counts(tmp_path: Path) -> None:
    outcomes = [
        _outcome("ok.yaml", 0, tmp_path, verdicts={"mutex-graph": _verdict("mutex-graph", True)}, expect="valid"),
        _outcome("broken.yaml", 1, tmp_path, expect="valid",
                 verdicts={"mutex-graph": _verdict("mutex-graph", False, 2),
                           "resource": _verdict("resource", False, 1, "stale-write"),
                           "fencing": _verdict("fencing", True)}),
        _outcome("undecided.yaml", 2, tmp_path, verdicts={"linearizable": _verdict("linearizable", "unknown")}),
        _outcome("typo.yaml", 3, status="error", error="typo.yaml:4: field 'workload.ttl': must be > 0"),
    ]
    path = write_junit(tmp_path / "out" / "junit.xml", GateResult(outcomes, ["later.yaml"], 3, 9.0))
    suite = _check_structure(path)
    assert _counts(suite) == {"tests": 5, "failures": 1, "errors": 2, "skipped": 1}
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["ok.yaml", "broken.yaml", "undecided.yaml", "typo.yaml", "later.yaml"]

    ok = cases["ok.yaml"]
    assert [child.tag for child in ok] == ["properties", "system-out"]
    props = {p.get("name"): p.get("value") for p in ok.iter("property")}
    assert props["run_folder"] == str(tmp_path / "ok.yaml-20260101T000000Z") and props["exit_code"] == "0"
    out = ok.findtext("system-out")
    assert f"report: {tmp_path / 'ok.yaml-20260101T000000Z' / 'report.html'}" in out  # type: ignore[operator]
    assert "[[ATTACHMENT|" in out  # type: ignore[operator]

    failure = cases["broken.yaml"].find("failure")
    assert failure is not None and failure.get("type") == "anomaly"
    assert failure.get("message") == ("mutex-graph: 2 anomalies (overlapping-holds); "
                                      "resource: 1 anomaly (stale-write) (expected valid)")
    assert "stale-write: a stale-write between ops 3 and 7" in (failure.text or "")
    assert cases["undecided.yaml"].find("error").get("type") == "unknown"  # type: ignore[union-attr]
    typo = cases["typo.yaml"].find("error")
    assert typo.get("type") == "bad-input" and "field 'workload.ttl'" in typo.get("message")  # type: ignore[union-attr,operator]
    assert "interrupted" in cases["later.yaml"].find("skipped").get("message")  # type: ignore[union-attr,operator]
    assert [p.name for p in path.parent.iterdir()] == ["junit.xml"]  # written atomically: no temp file left


def test_an_expected_anomaly_not_found_is_a_failure_saying_so() -> None:
    outcome = CaseOutcome("pause.yaml", 1, verdicts={"mutex-graph": _verdict("mutex-graph", True),
                                                      "resource": _verdict("resource", True)}, expect="invalid")
    assert failure_message(outcome) == ("expected invalid, but no checker found an anomaly "
                                        "(mutex-graph: 0 anomalies, resource: 0 anomalies)")


def test_text_that_xml_cannot_hold_is_replaced(tmp_path: Path) -> None:
    outcome = CaseOutcome("weird\x07.yaml", 3, status="error", error="bad byte \x00 here")
    path = write_junit(tmp_path / "j.xml", GateResult([outcome], [], 3, 0.1))
    case = _check_structure(path).find("testcase")
    assert case.get("name") == "weird?.yaml" and case.find("error").get("message") == "bad byte ? here"  # type: ignore[union-attr]


# -- the gate's logic, with case runners written here -------------------------------------
def _case(name: str, code: int, ran: list[str]) -> Case:
    def run() -> CaseOutcome:
        ran.append(name)
        return CaseOutcome(name, code)

    return Case(name, run)


def test_the_gate_exits_with_the_worst_code_and_runs_every_case() -> None:
    ran: list[str] = []
    result = run_gate([_case("a", 0, ran), _case("b", 1, ran), _case("c", 2, ran)])
    assert ran == ["a", "b", "c"] and result.exit_code == 1 and result.not_run == []
    assert run_gate([_case("a", 0, ran), _case("b", 0, ran)]).exit_code == 0
    table = summary_table(result)
    assert table.splitlines()[-1].startswith("gate: 1 of 3 passed; exit 1")


def test_an_invalid_case_stops_the_gate_before_anything_runs() -> None:
    ran: list[str] = []

    def bad() -> None:
        raise BadInput("b.yaml", "no such scenario file")

    cases = [_case("a", 0, ran), Case("b.yaml", lambda: CaseOutcome("b.yaml", 0), bad), _case("c", 0, ran)]
    result = run_gate(cases)
    assert ran == [] and result.exit_code == 3
    assert [(o.name, o.exit_code, o.error) for o in result.outcomes] == [
        ("b.yaml", 3, "b.yaml: no such scenario file")]
    assert result.not_run == ["a", "c"] and "invalid input" in result.not_run_reason


@pytest.mark.parametrize("how", ["raises", "returns-incomplete"])
def test_an_interrupted_gate_keeps_what_finished(tmp_path: Path, how: str) -> None:
    ran: list[str] = []

    def interrupted() -> CaseOutcome:
        ran.append("b")
        if how == "raises":
            raise KeyboardInterrupt
        return CaseOutcome("b", 130, status="incomplete")

    result = run_gate([_case("a", 0, ran), Case("b", interrupted), _case("c", 0, ran)])
    assert ran == ["a", "b"] and result.exit_code == 130 and result.interrupted
    finished = [o.name for o in result.outcomes]
    assert finished == (["a"] if how == "raises" else ["a", "b"])
    assert result.not_run == (["b", "c"] if how == "raises" else ["c"])
    suite = _check_structure(write_junit(tmp_path / "j.xml", result))
    assert _counts(suite) == {"tests": 3, "failures": 0, "errors": 0, "skipped": 2}


# -- --junit-xml on check and run ---------------------------------------------------------
def test_check_writes_one_testcase_per_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xml = tmp_path / "check.xml"
    code = cli.main(["check", str(PORCUPINE / "etcd_000.log"), str(PORCUPINE / "etcd_002.log"),
                     str(tmp_path / "missing.log"), "--model", "cas-register", "--junit-xml", str(xml)])
    capsys.readouterr()
    assert code == 3
    suite = _check_structure(xml)
    assert _counts(suite) == {"tests": 3, "failures": 1, "errors": 1, "skipped": 0}
    invalid, valid, missing = suite.findall("testcase")
    assert invalid.get("classname") == "harness.check.cas-register"
    assert invalid.find("failure").get("message").startswith("cas-register: 1 anomaly (nonlinearizable)")  # type: ignore[union-attr]
    assert valid.find("failure") is None and valid.find("error") is None
    assert "no such file" in missing.find("error").get("message")  # type: ignore[union-attr,operator]


def test_run_writes_its_bad_input_as_an_error_testcase(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "tests" / "scenarios" / "ci-pause.yaml").read_text().replace("ttl: 0.5", "ttl: -1"))
    xml = tmp_path / "run.xml"
    code = cli.main(["run", str(bad), "--results", str(tmp_path / "results"), "--junit-xml", str(xml)])
    assert code == 3 and "field 'workload" in capsys.readouterr().err
    case = _check_structure(xml).find("testcase")
    assert case.get("classname") == "harness.run"  # type: ignore[union-attr]
    error = case.find("error")  # type: ignore[union-attr]
    assert error.get("type") == "bad-input" and str(bad) in error.get("message")  # type: ignore[union-attr,operator]


def test_a_crashing_case_runner_is_an_unknown_error_and_the_gate_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    ran: list[str] = []

    def crash() -> CaseOutcome:
        raise ZeroDivisionError("a bug")

    result = run_gate([Case("crash", crash), _case("b", 0, ran)])
    assert ran == ["b"] and result.exit_code == 2
    assert (result.outcomes[0].status, result.outcomes[0].error) == (
        "error", "the case runner crashed: ZeroDivisionError: a bug")
    assert "ZeroDivisionError" in capsys.readouterr().err  # the traceback is not hidden


def test_a_simulated_gate_has_a_case_per_seed_and_one_for_the_sweep(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    scenario = REPO / "tests" / "scenarios" / "ci-pause.yaml"  # expect: invalid; every seed finds it
    xml = tmp_path / "gate.xml"
    code = cli.main(["gate", str(scenario), "--simulate", "--seeds", "0..1", "--results", str(tmp_path / "r"),
                     "--junit-xml", str(xml)])
    out = capsys.readouterr().out
    assert code == 0
    names = [case.get("name") for case in _check_structure(xml).findall("testcase")]
    assert names == [f"{scenario} seed 0", f"{scenario} seed 1", f"{scenario} [seeds 0..1]"]
    sweep_row = next(line for line in out.splitlines() if line.startswith(f"{scenario} [seeds 0..1]"))
    assert "INVALID 2/2" in sweep_row  # the sweep's own verdict, not a "VALID" for a met expectation
    # the same file expecting valid: every seed's case fails, and so does the sweep's
    valid = tmp_path / "ci-pause-valid.yaml"
    valid.write_text(scenario.read_text().replace("expect: invalid", "expect: valid"))
    code = cli.main(["gate", str(valid), "--simulate", "--seeds", "0..1", "--results", str(tmp_path / "r2"),
                     "--junit-xml", str(xml)])
    capsys.readouterr()
    assert code == 1
    cases = _check_structure(xml).findall("testcase")
    failed = [case.get("name") for case in cases if case.find("failure") is not None]
    assert failed == [f"{valid} seed 0", f"{valid} seed 1", f"{valid} [seeds 0..1]"]


def test_a_sweep_summary_counts_the_seeds_by_verdict() -> None:
    from harness.gate import sweep_summary

    assert sweep_summary([True, True, True]) == "VALID 3/3"
    assert sweep_summary([True, False, False]) == "INVALID 2/3"
    assert sweep_summary([True, "unknown", None]) == "UNKNOWN 2/3"
    assert sweep_summary([False, "unknown"]) == "INVALID 1/2"
