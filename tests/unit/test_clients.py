"""Clients under test, without servers: the lock workload's recording through a LockClient
(scripted outcomes), what each client promises under a scenario, the comparison table and
page, the protocol's pure helpers, and scenario validation of `client:`."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from harness.checker import check
from harness.clients import CLIENTS, Attempt, LockClient
from harness.clients.adapters import protocol
from harness.clients.promises import promise
from harness.clients.specs import get_client
from harness.commands.compare import BEGIN, END, cell_from_results, parse_clients, update_readme
from harness.errors import BadInput
from harness.history.readers import read_history
from harness.history.recorder import Recorder
from harness.report.comparison import Cell, broken, markdown_matrix, render_page, text_table
from harness.scenario.loader import load_scenario
from harness.workload.base import ClientContext, ProcessHistory
from harness.workload.lock import LockCycle, LockParams, LockWorkload

REPO = Path(__file__).resolve().parents[2]


OK = Attempt("ok")


class ScriptedClient(LockClient):
    """Answers acquire with the next scripted Attempt; records pause/resume."""

    def __init__(self, name: str, acquires: list[Attempt], extend: Attempt = OK,
                 release: Attempt = OK) -> None:
        self.spec = get_client(name)
        self.acquires = list(acquires)
        self.extend_answer = extend
        self.release_answer = release
        self.calls: list[str] = []

    def acquire(self, name: str, ttl: float) -> Attempt:
        self.calls.append("acquire")
        return self.acquires.pop(0)

    def extend(self, name: str, ttl: float) -> Attempt:
        self.calls.append("extend")
        return self.extend_answer

    def release(self, name: str) -> Attempt:
        self.calls.append("release")
        return self.release_answer

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")


def run_cycles(tmp_path: Path, client: ScriptedClient, cycles: list[LockCycle], **params: object) -> list:
    workload = LockWorkload(LockParams(type="lock", client=client.spec.name, use_ms=0, **params), seed=1,
                            clients=1)
    recorder = Recorder(tmp_path / "history.jsonl")
    ctx = ClientContext(slot=0, clients=1, urls=[], history=ProcessHistory(recorder, 0, 1),
                        stop=threading.Event(), rng=random.Random(1))
    for cycle in cycles:
        workload.cycle(client, ctx, cycle)
    recorder.close()
    return read_history(tmp_path / "history.jsonl")


def test_outcomes_become_ok_fail_info_and_tokenless_holds_get_numbers(tmp_path: Path) -> None:
    client = ScriptedClient("pottery", [Attempt("ok"), Attempt("refused"), Attempt("unknown", error="Timeout: n2"),
                                        Attempt("ok")])
    events = run_cycles(tmp_path, client, [LockCycle("lock0", 0.0, False)] * 4, ttl=2.0)
    acquires = [e for e in events if e.f == "acquire" and e.type != "invoke"]
    assert [e.type for e in acquires] == ["ok", "fail", "info", "ok"]
    assert acquires[2].extra["error"] == "Timeout: n2"
    tokens = [e.value["token"] for e in acquires if e.type == "ok"]
    assert tokens == [1, 2]  # hold numbers in grant order
    # no validity from the library: judged by the ttl, counted from the invocation
    assert all(0 < e.value["validity_ms"] <= 2000 for e in acquires if e.type == "ok")
    assert check(events, "mutex-graph").valid is True


def test_the_library_validity_and_token_are_recorded(tmp_path: Path) -> None:
    client = ScriptedClient("majorityredis", [Attempt("ok", token=41, valid_until=time.monotonic() + 0.5)])
    events = run_cycles(tmp_path, client, [LockCycle("lock0", 0.0, False)], ttl=5.0)
    ok = next(e for e in events if e.f == "acquire" and e.type == "ok")
    assert ok.value["token"] == 41 and 300 < ok.value["validity_ms"] <= 500  # the library's, not the ttl


def test_a_pause_pauses_the_client_and_unsupported_extend_is_not_invoked(tmp_path: Path) -> None:
    client = ScriptedClient("redlock-py", [Attempt("ok", valid_until=time.monotonic() + 5)])
    events = run_cycles(tmp_path, client, [LockCycle("lock0", 0.01, True)])
    assert client.calls == ["acquire", "pause", "resume", "release"]
    assert not [e for e in events if e.f == "extend"]


def test_failed_extend_and_unknown_release(tmp_path: Path) -> None:
    client = ScriptedClient("pottery", [Attempt("ok")], extend=Attempt("refused"),
                            release=Attempt("unknown", error="worker of client pottery (pid 7) exited with code 1"))
    events = run_cycles(tmp_path, client, [LockCycle("lock0", 0.0, True)])
    done = [(e.f, e.type) for e in events if e.type != "invoke"]
    assert done == [("acquire", "ok"), ("use", "ok"), ("extend", "fail"), ("release", "info")]


def test_fenced_resource_with_a_tokenless_client_is_bad_input(tmp_path: Path) -> None:
    text = (REPO / "scenarios" / "compare" / "client-pause-fenced.yaml").read_text()
    path = tmp_path / "fenced.yaml"
    path.write_text(text.replace("  fenced: true\n", "  fenced: true\n  client: redis-py\n"))
    with pytest.raises(BadInput, match="client redis-py has no fencing tokens") as error:
        load_scenario(path)
    assert error.value.field == "workload" and error.value.line is not None


def test_unknown_client_names_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("name: t\nduration: 1\nworkload:\n  type: lock\n  client: potery\n")
    with pytest.raises(BadInput, match="unknown client 'potery'; known: majorityredis") as error:
        load_scenario(path)
    assert error.value.line == 5 and error.value.field == "workload.client"


@pytest.mark.parametrize(("scenario", "client", "kind"), [
    ("partition.yaml", "redis-py", "promised"),
    ("partition.yaml", "pottery", "promised"),
    ("kill-restart.yaml", "redis-py", "no promise"),
    ("kill-restart.yaml", "python-redis-lock", "no promise"),
    ("kill-restart.yaml", "redlock-py", "promised"),
    ("client-pause.yaml", "majorityredis", "no promise"),
    ("client-pause-fenced.yaml", "majorityredis", "promised"),
    ("client-pause-fenced.yaml", "majorityredis-0.1", "n/a"),
    ("node-pause.yaml", "aioredlock", "promised"),
    ("clock-jump.yaml", "majorityredis", "no promise"),
    ("clock-jump.yaml", "pottery", "no promise"),
])
def test_promises(scenario: str, client: str, kind: str) -> None:
    loaded = load_scenario(REPO / "scenarios" / "compare" / scenario).scenario
    assert promise(CLIENTS[client], loaded).kind == kind


def test_clock_jumps_on_a_fenced_resource_stay_a_promise_for_clients_with_tokens() -> None:
    loaded = load_scenario(REPO / "scenarios" / "clock-jump-fenced.yaml").scenario
    assert promise(CLIENTS["majorityredis"], loaded).kind == "promised"


def test_empty_restarts_are_no_promise_for_every_client_without_recovery() -> None:
    loaded = load_scenario(REPO / "scenarios" / "kill-restart-empty-unprotected.yaml").scenario
    assert {promise(spec, loaded).kind for spec in CLIENTS.values()} == {"no promise"}


def test_empty_restarts_are_promised_only_by_majorityredis_with_its_recovery() -> None:
    loaded = load_scenario(REPO / "scenarios" / "kill-restart-empty.yaml").scenario
    kinds = {name: promise(spec, loaded).kind for name, spec in CLIENTS.items()}
    assert kinds.pop("majorityredis") == "promised"
    assert set(kinds.values()) == {"no promise"}


CELLS = [
    Cell("majorityredis", "cmp-partition", "promised", "claims", valid=True, ops_per_s=30.0,
         acquire_p50_ms=4.0, acquire_p99_ms=300.0, acquires_ok=50, run_dir="../cmp-partition-majorityredis-1"),
    Cell("redlock-py", "cmp-partition", "promised", "claims", valid=False, anomalies=3,
         anomaly_kinds=("overlapping-holds",), ops_per_s=20.0, acquires_ok=40, run_dir="../cmp-partition-redlock-py-1"),
    Cell("redis-py", "cmp-kill", "no promise", "single node", valid=False, anomalies=2, acquires_ok=9,
         run_dir="../cmp-kill-redis-py-1"),
    Cell("redis-py", "cmp-fenced", "n/a", "no fencing tokens"),
]


def test_table_matrix_and_page() -> None:
    assert [c.judgement for c in CELLS] == ["kept", "BROKEN", "no promise", ""]
    assert broken(CELLS) == [CELLS[1]]
    headers, rows = text_table(CELLS)
    assert headers[:4] == ("client", "scenario", "promise", "verdict")
    assert rows[1][:5] == ("redlock-py", "cmp-partition", "promised", "INVALID", "3")
    assert rows[3][3] == "n/a"
    matrix = markdown_matrix(CELLS, CLIENTS)
    assert "| redlock-py | majority, no tokens | ❌ INVALID (3) · 20.0/s |" in matrix
    page = render_page(CELLS, CLIENTS, {"cmp-partition": "partitions"}, title="T", generated="now", command="cmd")
    assert page.count("/report.html'>report</a>") == 3
    assert "href='../cmp-partition-redlock-py-1/report.html'" in page
    assert "class='badge BROKEN'" in page and "no fencing tokens" in page


def test_a_run_that_never_held_a_lock_is_not_valid() -> None:
    results = {"valid": True, "status": "complete", "checkers": {}, "counts": {"acquire": {"ok": 0, "info": 9}},
               "throughput_ops_s": 1.0, "latency_ms": {}}
    cell = cell_from_results("pottery", "s", promise(CLIENTS["pottery"], load_scenario(
        REPO / "scenarios" / "compare" / "partition.yaml").scenario), results, "../run")
    assert cell.valid == "unknown" and "no lock was ever held" in (cell.note or "")


def test_parse_clients() -> None:
    assert parse_clients("all") == list(CLIENTS)
    assert parse_clients("redis-py,majorityredis") == ["majorityredis", "redis-py"]
    with pytest.raises(BadInput, match="unknown client"):
        parse_clients("majorityredis,nope")


def test_update_readme_rewrites_between_markers_only(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{BEGIN}\nold table\n{END}\noutro\n")
    update_readme(readme, CELLS, tmp_path / "docs" / "comparison.png")
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old table" not in text
    assert "| redlock-py |" in text and "![the comparison page](docs/comparison.png)" in text
    (tmp_path / "plain.md").write_text("no markers")
    with pytest.raises(BadInput, match="markers"):
        update_readme(tmp_path / "plain.md", CELLS, None)


def test_protocol_helpers() -> None:
    assert protocol.parse_url("redis://:p%40ss@10.0.0.1:7000/2") == {
        "host": "10.0.0.1", "port": 7000, "password": "p@ss", "db": 2}
    assert protocol.reply("refused") == {"outcome": "refused", "token": None, "validity": None, "error": None}
    assert protocol.unknown(TimeoutError("Timeout reading from socket\nmore")) == {
        "outcome": "unknown", "token": None, "validity": None, "error": "TimeoutError: Timeout reading from socket"}
    with pytest.raises(AssertionError):
        protocol.reply("maybe")


def test_the_run_report_names_the_client_and_how_its_holds_were_judged(tmp_path: Path) -> None:
    import json

    from harness.report import write_report
    from tests.support.run_folders import write_run_folder

    folder = write_run_folder(tmp_path, valid=True)
    results = json.loads((folder / "results.json").read_text())
    results["client"] = {"name": "pottery", "package": "pottery", "version": "3.0.1", "scope": "majority",
                         "fencing_tokens": False, "validity": "requested ttl", "extend": True, "worker_restarts": 2}
    results["checkers_skipped"] = {"fencing": "client pottery has no fencing tokens"}
    (folder / "results.json").write_text(json.dumps(results))
    page = write_report(folder)[0].read_text()
    assert "Client under test: <b>pottery</b> (pottery 3.0.1, majority)" in page
    assert "judged by the ttl it was asked for" in page and "hold number" in page
    assert "Checker fencing skipped: client pottery has no fencing tokens." in page
    assert "replaced 2 time(s)" in page


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "scenarios/queue-partition.yaml", "--client", "pottery"], "--client picks the library of a lock workload"),
    (["run", "scenarios/pause-fenced.yaml", "--client", "redlock-py"], "client redlock-py has no fencing tokens"),
    (["compare", "scenarios/register-fast.yaml"], "compare runs lock scenarios"),
    (["compare", "scenarios/pause.yaml", "--clients", "majorityredis,nope"], "unknown client(s) ['nope']"),
])
def test_cli_mistakes_exit_3_before_anything_starts(argv: list[str], message: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    code = main([argv[0], *[str(REPO / a) if a.startswith("scenarios/") else a for a in argv[1:]],
                 "--results", str(tmp_path / "results")])
    assert code == 3
    assert message in capsys.readouterr().err
    assert not (tmp_path / "results").exists()
