"""harness.report: report.html (self-contained, with its timeline payload), the PNGs, and the
`report` / `runs` commands."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness import analysis, cli, exitcodes
from harness.report import write_report
from harness.report.timeline import assign_lanes, describe, to_script_json
from tests.support.run_folders import FaultSpec, write_results_tree, write_run_folder

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def payload(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="timeline-data">(.*?)</script>', html, re.S)
    assert match, "the timeline data is embedded"
    return json.loads(match.group(1))


def decode_ops(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The inverse of encode_ops, as timeline.js does it."""
    ops, start, index = [], 0, 0
    for j in range(len(columns["s"])):
        start += columns["s"][j]
        index += columns["inv"][j]
        ops.append({"lane": columns["lane"][j], "s_us": start,
                    "e_us": -1 if columns["dur"][j] < 0 else start + columns["dur"][j],
                    "type": ["ok", "fail", "info"][columns["t"][j]], "f": columns["f"][j],
                    "inv": index, "cmp": index + columns["cmp"][j] if columns["cmp"][j] else -1,
                    "text": columns["texts"][columns["d"][j]]})
    return ops


@pytest.fixture(scope="module")
def lock_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    folder = write_run_folder(tmp_path_factory.mktemp("runs"), valid=False)
    return folder, write_report(folder)


def test_writes_report_and_plots(lock_run: tuple[Path, list[Path]]) -> None:
    folder, paths = lock_run
    assert [p.name for p in paths] == ["report.html", "latency.png", "rate.png"]
    assert all(p.parent == folder and p.exists() for p in paths)
    for png in paths[1:]:
        data = png.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    assert not list(folder.glob("*.partial"))


def test_report_is_self_contained(lock_run: tuple[Path, list[Path]]) -> None:
    folder, _ = lock_run
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html), "nothing is fetched at view time"
    assert "<link" not in html and "@import" not in html and "<script src" not in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert [base64.b64decode(i) for i in images] == [(folder / "latency.png").read_bytes(),
                                                     (folder / "rate.png").read_bytes()]
    assert 'id="timeline"' in html and 'id="anomalies"' in html and "function decode" in html


def test_verdict_banner_and_checker_cards(lock_run: tuple[Path, list[Path]]) -> None:
    html = (lock_run[0] / "report.html").read_text(encoding="utf-8")
    assert 'class="banner invalid"' in html and "INVALID" in html and "gate FAILED" in html
    for name, css in (("mutex-graph", "invalid"), ("fencing", "valid"), ("resource", "invalid")):
        assert f'<div class="checker {css}" data-checker="{name}">' in html
    assert 'id="counts"' in html and "<td>acquire</td>" in html and 'id="faults"' in html


def test_timeline_payload_holds_every_op_exactly(lock_run: tuple[Path, list[Path]]) -> None:
    folder, _ = lock_run
    data = payload((folder / "report.html").read_text(encoding="utf-8"))
    run = analysis.load_run(folder)
    ops = decode_ops(data["ops"])
    assert len(ops) == len(run.history)
    for op, row in zip(ops, run.history.itertuples(index=False)):
        assert op["inv"] == row.invoke_index
        assert op["cmp"] == (-1 if pd.isna(row.complete_index) else row.complete_index)
        assert op["s_us"] == round(row.invoke_s * 1e6)
        assert op["type"] == row.type and data["fs"][op["f"]] == row.f
        if row.type == "ok" and row.f == "acquire":
            assert f"token={row.result['token']}" in op["text"]
    assert [w["label"] for w in data["faults"]] == ["partition-halves n1,n2", "kill n3"]
    assert data["faults"][0]["s"] == 3000.0 and data["faults"][0]["e"] == 6000.0
    assert len(data["lanes"]) == run.history["process"].nunique()


def test_anomalies_point_at_their_ops(lock_run: tuple[Path, list[Path]]) -> None:
    folder, _ = lock_run
    data = payload((folder / "report.html").read_text(encoding="utf-8"))
    results = json.loads((folder / "results.json").read_text())
    ops = decode_ops(data["ops"])
    anomalies = [a for a in data["anomalies"] if a["severity"] == "anomaly"]
    assert [a["kind"] for a in anomalies] == ["overlapping-holds", "concurrent-use"]
    holds = anomalies[0]
    expected = set(results["checkers"]["mutex-graph"]["anomalies"][0]["indices"])
    assert {ops[i]["cmp"] for i in holds["ops"]} == expected    # the two acquire-ok events
    assert data["anomalies"][-1]["severity"] == "warning"       # warnings listed after anomalies


def test_linearizability_anomaly_shows_key_prefix_and_the_op_that_cannot(tmp_path: Path) -> None:
    folder = write_run_folder(tmp_path, workload="register", valid=False, expect="invalid")
    write_report(folder)
    html = (folder / "report.html").read_text(encoding="utf-8")
    data = payload(html)
    anomaly = data["anomalies"][0]
    ops = decode_ops(data["ops"])
    assert anomaly["key"] in data["keys"]
    assert len(anomaly["cannot"]) == 1 and data["fs"][ops[anomaly["cannot"][0]]["f"]] == "read"
    assert anomaly["prefix_total"] == len(anomaly["prefix"]) > 5
    assert all(ops[i]["s_us"] < ops[anomaly["cannot"][0]]["s_us"] for i in anomaly["prefix"])
    assert "is not a possible result" in anomaly["explanation"]
    assert "gate passed" in html   # expect: invalid and the anomaly was found


def test_report_without_results_json(tmp_path: Path) -> None:
    folder = write_run_folder(tmp_path)
    (folder / "results.json").unlink()
    write_report(folder)
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert 'class="banner none"' in html and "NO VERDICT" in html and "No results.json" in html
    assert payload(html)["anomalies"] == []


def test_report_of_an_incomplete_run_with_an_open_fault_and_no_latency(tmp_path: Path) -> None:
    faults = (FaultSpec("partition-halves", 1.0, 2.0, {"isolated": ["n1"]}),
              FaultSpec("pause", 3.0, None, {"nodes": ["n2"]}))
    folder = write_run_folder(tmp_path, duration_s=4.0, faults=faults, status="incomplete",
                              with_latency=False, valid=True)
    write_report(folder)
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "Run status: <b>incomplete</b>" in html and "never stopped" in html
    assert 'class="banner valid"' in html
    open_window = payload(html)["faults"][1]
    assert open_window["stopped"] is False and open_window["kind"] == "pause"


def test_report_of_an_empty_history(tmp_path: Path) -> None:
    folder = tmp_path / "empty-20261126T060000Z"
    folder.mkdir()
    (folder / "history.jsonl").write_text("")
    paths = write_report(folder)
    html = paths[0].read_text(encoding="utf-8")
    assert "No client operations" in html and payload(html)["ops"]["s"] == []
    assert paths[1].read_bytes().startswith(PNG_MAGIC)


def test_big_history_gives_a_compact_page(tmp_path: Path) -> None:
    folder = write_run_folder(tmp_path, clients=10, duration_s=40.0, think_ms=10.0)
    write_report(folder)
    ops = len(analysis.load_history(folder / "history.jsonl"))
    size = (folder / "report.html").stat().st_size
    assert ops > 20_000
    # the PNGs are a fixed cost; the ops cost ~25 bytes each, not a DOM element each
    assert size < 400_000 + 40 * ops, f"{size} bytes for {ops} ops"


def test_script_json_cannot_close_its_script_element() -> None:
    text = to_script_json({"v": "</script><script>alert(1)</script><!--"})
    assert "</" not in text and "<!--" not in text
    assert json.loads(text) == {"v": "</script><script>alert(1)</script><!--"}


def test_describe_values_briefly() -> None:
    assert describe(None, {"token": 7, "validity_ms": 4900}) == "→ token=7 validity_ms=4900"
    assert describe({"token": 3}, None) == "token=3"
    assert describe(None, None) == ""
    assert describe(None, [1, 2]) == "→ [1 2]"
    assert len(describe("x" * 500, None)) < 60


def test_many_processes_share_lanes_without_overlap() -> None:
    # 100 processes one after another (each ends with an info, a new process takes over)
    rows = [{"process": p, "invoke_s": p * 1.0, "complete_s": p * 1.0 + 0.5} for p in range(100)]
    rows.append({"process": 100, "invoke_s": 0.2, "complete_s": float("nan")})   # never completes
    history = pd.DataFrame(rows)
    lanes, labels = assign_lanes(history, end_s=100.0, max_lanes=40)
    assert len(labels) == 2
    assert lanes[100] != lanes[0] and labels[lanes[0]]["label"] == "p0 +99"
    few = pd.DataFrame(rows[:5])
    lanes, labels = assign_lanes(few, end_s=5.0)
    assert [lane["label"] for lane in labels] == ["p0", "p1", "p2", "p3", "p4"]


# ------------------------------------------------------------------------- commands

@pytest.fixture
def harness_cli(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`python -m harness` with only this helper's subcommands (the others may not exist yet)."""
    monkeypatch.setattr(cli, "COMMANDS", {k: v for k, v in cli.COMMANDS.items() if k in ("report", "runs")})
    return cli.main


def test_report_command_rebuilds_the_report(tmp_path: Path, harness_cli, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = write_run_folder(tmp_path)
    assert not (folder / "report.html").exists()
    assert harness_cli(["report", str(folder)]) == exitcodes.VALID
    assert (folder / "report.html").exists() and (folder / "rate.png").exists()
    assert str(folder / "report.html") in capsys.readouterr().out


def test_report_command_on_a_missing_or_broken_folder_is_bad_input(tmp_path: Path, harness_cli, capsys) -> None:  # type: ignore[no-untyped-def]
    assert harness_cli(["report", str(tmp_path / "missing")]) == exitcodes.BAD_INPUT
    assert "no such run folder" in capsys.readouterr().err
    folder = write_run_folder(tmp_path)
    (folder / "history.jsonl").write_text('{"index": 0, oops\n')
    assert harness_cli(["report", str(folder)]) == exitcodes.BAD_INPUT
    err = capsys.readouterr().err
    assert "history.jsonl:1" in err and "Traceback" not in err


def test_runs_command_lists_newest_first(tmp_path: Path, harness_cli, capsys) -> None:  # type: ignore[no-untyped-def]
    written = write_results_tree(tmp_path)
    assert harness_cli(["runs", str(tmp_path)]) == exitcodes.VALID
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["run", "started"]
    names = [line.split()[0] for line in lines[2:]]
    assert names == [p.name for p in reversed(written)]
    newest = lines[2]
    assert "2026-11-26 06:00:00" in newest and "mutex-graph=false" in newest and "NO" in newest
    assert "partition-halves x1, kill x1" in newest


def test_runs_command_on_empty_and_missing_folders(tmp_path: Path, harness_cli, capsys) -> None:  # type: ignore[no-untyped-def]
    assert harness_cli(["runs", str(tmp_path)]) == exitcodes.VALID
    assert "no runs in" in capsys.readouterr().out
    assert harness_cli(["runs", str(tmp_path / "missing")]) == exitcodes.BAD_INPUT
    assert "no such results folder" in capsys.readouterr().err


def test_python_m_harness_report_exit_codes(tmp_path: Path) -> None:
    import subprocess
    import sys

    missing = subprocess.run([sys.executable, "-m", "harness", "report", str(tmp_path / "missing")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == exitcodes.BAD_INPUT
    assert "no such run folder" in missing.stderr and "Traceback" not in missing.stderr
    folder = write_run_folder(tmp_path, duration_s=3.0)
    rebuilt = subprocess.run([sys.executable, "-m", "harness", "report", str(folder)],
                             capture_output=True, text=True, timeout=120)
    assert rebuilt.returncode == exitcodes.VALID, rebuilt.stderr
    assert (folder / "report.html").exists()
