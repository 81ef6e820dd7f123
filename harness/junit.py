"""JUnit XML of a gate, in the shape CI systems read (Jenkins, GitLab, GitHub test reporters).

    <testsuites name tests failures errors skipped time>
      <testsuite name tests failures errors skipped time timestamp hostname>
        <testcase classname name time>
          <properties><property name="run_folder" value="results/..."/> ...</properties>
          <failure type="anomaly" message="mutex-graph: 2 anomalies (...)">details</failure>
          <system-out>run folder, report path, [[ATTACHMENT|report.html]]</system-out>
        </testcase>

One testcase per case. Exit code -> element: 0 none (passed); 1 <failure>
(type "anomaly", or "expectation" when an expected anomaly was not found),
the message naming each checker and its anomaly count; 2 <error type="unknown">;
3 <error type="bad-input">; 4 <error type="environment">; an interrupted case
<skipped> (no verdict), and a case the gate never started <skipped> too.
Counts on testsuite and testsuites are those of the testcases. The file is
written atomically: a reader never sees half of it.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import exitcodes
from harness.gate import CaseOutcome, GateResult, expect_label

_SHOWN_ANOMALIES = 10      # per checker, in a failure's text
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in XML 1.0
_ERROR_TYPES = {exitcodes.UNKNOWN: "unknown", exitcodes.BAD_INPUT: "bad-input",
                exitcodes.ENVIRONMENT: "environment"}


def _text(value: Any) -> str:
    return _XML_INVALID.sub("?", str(value))


def _anomalies(n: int) -> str:
    return "1 anomaly" if n == 1 else f"{n} anomalies"


def failure_message(outcome: CaseOutcome) -> str:
    """Each checker that found anomalies with their count and kinds; or why an expectation failed
    (a case that says why itself, like a simulated sweep's, is taken at its word)."""
    if outcome.error:
        return outcome.error
    invalid = [(name, v) for name, v in outcome.verdicts.items() if v.get("valid") is False]
    if invalid:
        parts = []
        for name, verdict in invalid:
            anomalies = verdict.get("anomalies", [])
            kinds = sorted({a.get("kind", "?") for a in anomalies})
            parts.append(f"{name}: {_anomalies(len(anomalies))}"
                         + (f" ({', '.join(kinds)})" if kinds else ""))
        return "; ".join(parts) + (f" (expected {expect_label(outcome.expect)})" if outcome.expect else "")
    if outcome.expect == "invalid":
        counts = ", ".join(f"{name}: 0 anomalies" for name in outcome.verdicts) or "no checker ran"
        return f"expected invalid, but no checker found an anomaly ({counts})"
    return f"exit {outcome.exit_code}"


def _failure_details(outcome: CaseOutcome) -> str:
    lines = []
    for name, verdict in outcome.verdicts.items():
        anomalies = verdict.get("anomalies", [])
        lines.append(f"{name}: valid={verdict.get('valid')} anomalies={len(anomalies)}")
        for anomaly in anomalies[:_SHOWN_ANOMALIES]:
            lines.append(f"  {anomaly.get('kind', '?')}: {anomaly.get('message', '')}")
        if len(anomalies) > _SHOWN_ANOMALIES:
            lines.append(f"  ... {len(anomalies) - _SHOWN_ANOMALIES} more (see the report)")
    return "\n".join(lines)


def _error_message(outcome: CaseOutcome) -> str:
    if outcome.error:
        return outcome.error
    undecided = [name for name, v in outcome.verdicts.items() if v.get("valid") == "unknown"]
    if undecided:
        return f"unknown: no verdict from {', '.join(undecided)} (time limit or checker error)"
    return f"exit {outcome.exit_code}"


def _testcase(outcome: CaseOutcome, classname: str) -> ET.Element:
    case = ET.Element("testcase", {"classname": classname, "name": _text(outcome.name),
                                   "time": f"{outcome.time_s:.3f}"})
    properties = {"exit_code": outcome.exit_code, "status": outcome.status,
                  "expect": expect_label(outcome.expect) if outcome.expect else None,
                  "run_folder": outcome.run_dir, "report": outcome.report}
    props = ET.SubElement(case, "properties")
    for name, value in properties.items():
        if value is not None:
            ET.SubElement(props, "property", {"name": name, "value": _text(value)})
    if outcome.interrupted:
        ET.SubElement(case, "skipped", {"message": "interrupted: the run is incomplete, no verdict"})
    elif outcome.exit_code == exitcodes.INVALID:
        kind = "anomaly" if any(v.get("valid") is False for v in outcome.verdicts.values()) else "expectation"
        failure = ET.SubElement(case, "failure", {"type": kind, "message": _text(failure_message(outcome))})
        failure.text = _text(_failure_details(outcome))
    elif outcome.exit_code != exitcodes.VALID:
        error = ET.SubElement(case, "error", {"type": _ERROR_TYPES.get(outcome.exit_code, "error"),
                                              "message": _text(_error_message(outcome))})
        error.text = _text(_failure_details(outcome)) or None
    out = []
    if outcome.run_dir is not None:
        out.append(f"run folder: {outcome.run_dir}")
    if outcome.report is not None:
        out += [f"report: {outcome.report}", f"[[ATTACHMENT|{outcome.report}]]"]
    if out:
        ET.SubElement(case, "system-out").text = _text("\n".join(out))
    return case


def _not_run(name: str, classname: str, reason: str) -> ET.Element:
    case = ET.Element("testcase", {"classname": classname, "name": _text(name), "time": "0.000"})
    ET.SubElement(case, "skipped", {"message": _text(f"not run: {reason}")})
    return case


def junit_tree(result: GateResult, *, suite: str = "harness gate", classname: str = "harness.gate",
               timestamp: datetime | None = None) -> ET.ElementTree:
    """The XML document of a gate result (see the module docstring)."""
    cases = [_testcase(o, classname) for o in result.outcomes] + [_not_run(n, classname, result.not_run_reason)
                                                                  for n in result.not_run]
    counts = {
        "tests": len(cases),
        "failures": sum(1 for c in cases if c.find("failure") is not None),
        "errors": sum(1 for c in cases if c.find("error") is not None),
        "skipped": sum(1 for c in cases if c.find("skipped") is not None),
    }
    attributes = {k: str(v) for k, v in counts.items()} | {"time": f"{result.time_s:.3f}"}
    root = ET.Element("testsuites", {"name": suite, **attributes})
    stamp = (timestamp or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S")
    testsuite = ET.SubElement(root, "testsuite", {"name": suite, **attributes, "timestamp": stamp,
                                                  "hostname": socket.gethostname()})
    testsuite.extend(cases)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(path: str | Path, result: GateResult, **kwargs: Any) -> Path:
    """Write the JUnit XML of `result` to `path` atomically (parent folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = junit_tree(result, **kwargs)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            tree.write(handle, encoding="utf-8", xml_declaration=True)
            handle.write(b"\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
