"""Check recorded histories: `python -m harness check HISTORY... --model MODEL`.

Each file is read (our history.jsonl, Jepsen EDN or Jepsen 0.0.x logs) and
checked on its own; the exit code is the worst over the files: 0 valid,
1 anomalies, 2 unknown (time limit), 3 bad input (unreadable file, unknown model).
With --junit-xml the files are also written as JUnit XML (one test case per file).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from typing import Any, TextIO

from harness import exitcodes
from harness.checker import CHECKER_NAMES, check
from harness.checker.models import MODELS_WITH_INIT
from harness.checker.verdict import Verdict
from harness.commands.gate import add_junit_argument
from harness.errors import BadInput, HarnessError
from harness.gate import CaseOutcome, GateResult
from harness.history.events import Event
from harness.history.readers import read_history

_SHOWN_ANOMALIES = 5  # per file, in the text output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("histories", nargs="+", metavar="HISTORY",
                        help="history files: history.jsonl, Jepsen EDN (.edn) or Jepsen log lines")
    parser.add_argument("--model", required=True, metavar="MODEL",
                        help=f"the model or checker: {', '.join(CHECKER_NAMES)}")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per file per line (file, valid, anomalies, counts, elapsed_s)")
    parser.add_argument("--time-limit", type=float, default=None, metavar="S",
                        help="seconds per file; when reached the verdict is 'unknown' (exit 2)")
    parser.add_argument("--init", default=None, metavar="VALUE",
                        help=f"initial value for {', '.join(MODELS_WITH_INIT)} (JSON, e.g. 0 or '\"x\"'; "
                             "default: absent for registers, \"\" for kv)")
    add_junit_argument(parser)


def execute(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.model not in CHECKER_NAMES:
        raise BadInput("--model", f"unknown model {args.model!r}; known: {', '.join(CHECKER_NAMES)}")
    if args.time_limit is not None and args.time_limit <= 0:
        raise BadInput("--time-limit", f"must be positive, got {args.time_limit}")
    options: dict[str, Any] = {}
    if args.init is not None:
        if args.model not in MODELS_WITH_INIT:
            raise BadInput("--init", f"applies to {', '.join(MODELS_WITH_INIT)}, not {args.model!r}")
        options["init"] = _parse_init(args.init)
    started = time.monotonic()
    cases: list[CaseOutcome] = []
    codes = [_check_file(path, args, options, out, cases) for path in args.histories]
    code = exitcodes.worst(codes)
    if args.junit_xml is not None:
        from harness.junit import write_junit

        write_junit(args.junit_xml, GateResult(cases, [], code, time.monotonic() - started),
                    suite="harness check", classname=f"harness.check.{args.model}")
    return code


def _parse_init(text: str) -> Any:
    """JSON if it parses (0 -> 0, null -> None, "x" -> "x"), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _check_file(path: str, args: argparse.Namespace, options: dict[str, Any], out: TextIO,
                cases: list[CaseOutcome]) -> int:
    """Check one file, print its verdict and append its CaseOutcome to `cases`; returns its exit code."""
    started = time.monotonic()
    try:
        events = read_history(path)
        verdict = check(events, args.model, time_limit=args.time_limit, **options)
    except HarnessError as error:
        reason = _located(error, path)
        cases.append(CaseOutcome(name=path, exit_code=error.exit_code, status="error", error=reason,
                                 time_s=time.monotonic() - started))
        if args.json:
            print(json.dumps({"file": path, "valid": None, "error": reason,
                              "exit_code": error.exit_code}), file=out, flush=True)
        else:
            print(f"error: {reason}", file=sys.stderr, flush=True)
        return error.exit_code
    code = exitcodes.exit_code_for(verdict.valid)
    cases.append(CaseOutcome(name=path, exit_code=code, verdicts={verdict.checker: verdict.to_json()},
                             time_s=time.monotonic() - started))
    if args.json:
        record = {"file": path, "model": args.model, **verdict.to_json(), "counts": op_counts(events),
                  "exit_code": code}
        print(json.dumps(record), file=out, flush=True)
    else:
        print(_text(path, verdict, events), file=out, flush=True)
    return code


def _located(error: HarnessError, path: str) -> str:
    """The error's message, naming the file when the checker could not (it sees events, not files)."""
    if isinstance(error, BadInput) and error.path is None:
        return str(BadInput(path, error.reason, line=error.line, field=error.field))
    return str(error)


def op_counts(events: list[Event]) -> dict[str, Any]:
    """Event counts by type ({"invoke": n, "ok": n, "fail": n, "info": n}) and client/nemesis events."""
    by_type = Counter(e.type for e in events if e.process != "nemesis")
    counts: dict[str, Any] = {kind: by_type.get(kind, 0) for kind in ("invoke", "ok", "fail", "info")}
    counts["events"] = len(events)
    counts["nemesis"] = sum(1 for e in events if e.process == "nemesis")
    return counts


def _text(path: str, verdict: Verdict, events: list[Event]) -> str:
    label = {True: "VALID", False: "INVALID", "unknown": "UNKNOWN"}[verdict.valid]
    counts = op_counts(events)
    lines = [f"{path}: {label} ({verdict.checker}; {counts['invoke']} ops: {counts['ok']} ok, "
             f"{counts['fail']} fail, {counts['info']} info; {verdict.elapsed_s:.3f}s)"]
    for anomaly in verdict.anomalies[:_SHOWN_ANOMALIES]:
        explanation = anomaly.details.get("explanation") if anomaly.details else None
        lines.append(f"  {anomaly.kind}: {anomaly.message}")
        if explanation:
            # line 0 is a header and line 1 the message already printed
            lines.extend("    " + line for line in str(explanation).splitlines()[2:])
    if len(verdict.anomalies) > _SHOWN_ANOMALIES:
        lines.append(f"  ... {len(verdict.anomalies) - _SHOWN_ANOMALIES} more anomalies (use --json)")
    for warning in verdict.warnings[:_SHOWN_ANOMALIES]:
        lines.append(f"  warning {warning.kind}: {warning.message}")
    if verdict.valid == "unknown":
        lines.append("  the time limit was reached before a verdict (raise --time-limit)")
    return "\n".join(lines)
