"""`python -m harness check`: exit codes (worst over files), --json lines, bad input messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main

CORPUS = Path(__file__).resolve().parent.parent / "data" / "porcupine"
VALID_ETCD = str(CORPUS / "etcd" / "etcd_002.log")
INVALID_ETCD = str(CORPUS / "etcd" / "etcd_000.log")
EMPTY_ETCD = str(CORPUS / "etcd" / "etcd_095.log")


def test_valid_history_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", VALID_ETCD, "--model", "cas-register"]) == 0
    assert "VALID" in capsys.readouterr().out


def test_invalid_history_exits_1_and_explains(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", INVALID_ETCD, "--model", "cas-register"]) == 1
    out = capsys.readouterr().out
    assert "INVALID" in out and "nonlinearizable" in out and "cannot take effect" in out


def test_json_prints_one_object_per_file_and_the_worst_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", VALID_ETCD, INVALID_ETCD, EMPTY_ETCD, "--model", "cas-register", "--json"])
    assert code == 1
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["file"], r["valid"]) for r in records] == [(VALID_ETCD, True), (INVALID_ETCD, False),
                                                          (EMPTY_ETCD, True)]
    invalid = records[1]
    assert invalid["anomalies"][0]["kind"] == "nonlinearizable"
    assert invalid["counts"]["invoke"] == 85 and invalid["counts"]["info"] == 16
    assert invalid["elapsed_s"] >= 0 and invalid["exit_code"] == 1


def test_time_limit_gives_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # values repeat (i % 7), so the register checker must search (WGL), which has a time limit
    lines = [json.dumps({"index": i, "time": i, "process": i, "type": "invoke", "f": "write", "value": i % 7})
             for i in range(14)]
    lines.append(json.dumps({"index": 14, "time": 14, "process": 99, "type": "invoke", "f": "read"}))
    lines += [json.dumps({"index": 15 + i, "time": 15 + i, "process": i, "type": "ok", "f": "write",
                          "value": i % 7}) for i in range(14)]
    lines.append(json.dumps({"index": 29, "time": 29, "process": 99, "type": "ok", "f": "read", "value": 1000}))
    path = tmp_path / "hard.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert main(["check", str(path), "--model", "register", "--time-limit", "0.000001"]) == 2
    assert "UNKNOWN" in capsys.readouterr().out
    assert main(["check", str(path), "--model", "register", "--json"]) == 1


def test_unknown_model_exits_3_listing_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", VALID_ETCD, "--model", "linearizable"]) == 3
    err = capsys.readouterr().err
    assert "unknown model 'linearizable'" in err
    assert "cas-register" in err and "mutex-graph" in err and "queue" in err


def test_malformed_history_exits_3_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "read"}\nnot json\n')
    assert main(["check", VALID_ETCD, str(path), "--model", "cas-register"]) == 3   # worst over files
    err = capsys.readouterr().err
    assert f"{path}:2" in err and "invalid JSON" in err


def test_a_checker_input_error_names_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(CORPUS / "kv" / "c01-ok.txt"), "--model", "register", "--json"]) == 3
    record = json.loads(capsys.readouterr().out)
    assert record["valid"] is None and "c01-ok.txt" in record["error"] and "does not know f" in record["error"]


def test_init_sets_the_initial_register_value(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text('{"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "read"}\n'
                    '{"index": 1, "time": 1, "process": 0, "type": "ok", "f": "read", "value": 0}\n')
    assert main(["check", str(path), "--model", "register"]) == 1
    assert main(["check", str(path), "--model", "register", "--init", "0"]) == 0
    assert main(["check", str(path), "--model", "fencing", "--init", "0"]) == 3


def test_runs_as_a_module() -> None:
    done = subprocess.run([sys.executable, "-m", "harness", "check", INVALID_ETCD, "--model", "cas-register",
                           "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert json.loads(done.stdout)["valid"] is False
