"""Scenario schema and loader: valid scenarios load; every mistake names the file, the line
and the dotted field (BadInput, exit 3)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness import exitcodes
from harness.errors import BadInput
from harness.scenario.loader import dotted, load_scenario
from harness.scenario.schema import LocalClusterConfig

REPO = Path(__file__).resolve().parents[2]

VALID = """\
name: demo
seed: 3
duration: 10
clients: 3
cluster:
  nodes: 3
  persistence: appendonly always
workload:
  type: lock
  ttl: 2.5
  use_ms: 10
nemesis:
  schedule:
    - {fault: partition-halves, start: 1, duration: 2}
    - fault: kill
      targets: [n1]
      start: 4
      duration: 1
checkers: [mutex-graph, resource]
expect: invalid
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_for(tmp_path: Path, text: str) -> BadInput:
    path = write(tmp_path, text)
    with pytest.raises(BadInput) as caught:
        load_scenario(path)
    error = caught.value
    assert error.exit_code == exitcodes.BAD_INPUT
    assert error.path == str(path)
    assert str(path) in str(error)
    return error


def replace(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new)


def test_valid_scenario_loads(tmp_path: Path) -> None:
    loaded = load_scenario(write(tmp_path, VALID))
    s = loaded.scenario
    assert s.name == "demo" and s.seed == 3 and s.duration == 10 and s.clients == 3
    assert isinstance(s.cluster, LocalClusterConfig) and s.cluster.persistence == "appendonly always"
    assert s.workload.type == "lock" and s.workload.ttl == 2.5
    assert [e.fault for e in s.nemesis.schedule] == ["partition-halves", "kill"]
    assert s.checker_list == ["mutex-graph", "resource"] and s.expect == "invalid"
    assert loaded.text.startswith("name: demo")


def test_defaults_and_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nduration: 5\nworkload: {type: register}\n")
    s = load_scenario(path, overrides={"duration": 2.5, "seed": 9, "expect": None}).scenario
    assert (s.duration, s.seed, s.expect, s.clients) == (2.5, 9, "valid", 5)
    assert s.cluster.mode == "local" and s.node_count == 5
    assert s.checker_list == ["register"]
    assert s.nemesis.is_empty()


@pytest.mark.parametrize("path", sorted((REPO / "scenarios").glob("*.yaml"))
                         + sorted((REPO / "scenarios" / "compare").glob("*.yaml")) + sorted(
    (REPO / "tests" / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_are_valid(path: Path) -> None:
    s = load_scenario(path).scenario
    # the run folder is named like the file (the comparison set's with a cmp- prefix)
    assert s.name == (f"cmp-{path.stem}" if path.parent.name == "compare" else path.stem)
    assert s.checker_list


@pytest.mark.parametrize("text, line, field, words", [
    # missing required field: the line of the mapping that lacks it
    (replace("name: demo\n", ""), 1, "name", "required field is missing"),
    # wrong type at top level
    (replace("duration: 10", "duration: soon"), 3, "duration", "number"),
    (replace("duration: 10", "duration: -1"), 3, "duration", "greater than 0"),
    # unknown top-level field
    (replace("seed: 3\n", "seed: 3\nsede: 4\n"), 3, "sede", "unknown field"),
    # cluster fields
    (replace("persistence: appendonly always", "persistence: sometimes"), 7, "cluster.persistence",
     "appendonly"),
    (replace("  nodes: 3\n", "  nodes: 0\n"), 6, "cluster.nodes", "greater than or equal to 1"),
    (replace("cluster:\n", "cluster:\n  mode: cloud\n"), 6, "cluster.mode", "local"),
    # workload: tag, params, unknown param
    (replace("type: lock", "type: mutex"), 9, "workload.type", "mutex"),
    (replace("  ttl: 2.5\n", "  ttl: -2\n"), 10, "workload.ttl", "greater than 0"),
    (replace("  ttl: 2.5\n", "  ttl: 2.5\n  tll: 3\n"), 11, "workload.tll", "unknown field"),
    # nemesis: unknown fault kind, unknown param, bad timing, unknown target node
    (replace("fault: partition-halves", "fault: earthquake"), 14, "nemesis.schedule[0].fault", "earthquake"),
    (replace("start: 1, duration: 2}", "start: 1, duration: 2, magnitude: 9}"), 14,
     "nemesis.schedule[0].magnitude", "unknown field"),
    (replace("      start: 4\n", "      start: later\n"), 17, "nemesis.schedule[1].start", "number"),
    (replace("targets: [n1]", "targets: [n9]"), 16, "nemesis.schedule[1].targets", "n9"),
    # checkers and expect
    (replace("checkers: [mutex-graph, resource]", "checkers: [mutex-graph, vibes]"), 19, "checkers", "vibes"),
    (replace("expect: invalid", "expect: maybe"), 20, "expect", "'valid' or 'invalid'"),
])
def test_every_mistake_names_file_line_and_field(tmp_path: Path, text: str, line: int, field: str,
                                                 words: str) -> None:
    error = error_for(tmp_path, text)
    assert (error.line, error.field) == (line, field), str(error)
    assert words in error.reason, str(error)
    assert f":{line}: field '{field}'" in str(error)


def test_cross_field_mistake_names_the_field(tmp_path: Path) -> None:
    text = "name: q\nduration: 5\nclients: 2\nworkload:\n  type: queue\n  producers: 2\n"
    error = error_for(tmp_path, text)
    assert (error.line, error.field) == (4, "workload")
    assert "producers (2) must be fewer than clients (2)" in error.reason


def test_checker_options_for_a_checker_not_run(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID + "checker_options:\n  register: {init: 0}\n")
    assert (error.line, error.field) == (22, "checker_options.register")


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    error = error_for(tmp_path, replace("  ttl: 2.5\n", "  ttl: [2.5\n"))
    assert error.line is not None and error.line >= 10
    assert "YAML syntax error" in error.reason


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    error = error_for(tmp_path, replace("  ttl: 2.5\n", "  ttl: 2.5\n  ttl: 3\n"))
    assert (error.line, error.field) == (11, "workload.ttl")
    assert "duplicate key 'ttl' (first at line 10)" in error.reason


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    ("- name: x\n", "must be a mapping"),
])
def test_not_a_scenario(tmp_path: Path, text: str, reason: str) -> None:
    error = error_for(tmp_path, text)
    assert error.line == 1 and reason in error.reason


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such scenario file") as caught:
        load_scenario(tmp_path / "nope.yaml")
    assert caught.value.path == str(tmp_path / "nope.yaml")


def test_several_errors_report_every_one_with_its_line(tmp_path: Path) -> None:
    text = replace("duration: 10", "duration: x").replace("clients: 3", "clients: y")
    error = error_for(tmp_path, text)
    assert error.field == "duration" and "(and 1 more error:" in error.reason
    clients_line = text.splitlines().index("clients: y") + 1
    assert f":{clients_line}: field 'clients':" in error.reason


def test_external_cluster_fields(tmp_path: Path) -> None:
    text = """\
    name: ext
    duration: 5
    cluster:
      mode: external
      nodes:
        - {name: n1, host: redis1}
        - {name: n2, host: redis2}
        - {name: n3, host: redis3}
      commands: {kill: "docker compose kill {service}"}
    workload: {type: register}
    """
    error = error_for(tmp_path, text)
    assert (error.line, error.field) == (3, "cluster.toxiproxy_url")
    fixed = text.replace("      commands:", "      toxiproxy_url: http://toxiproxy:8474\n      commands:")
    s = load_scenario(write(tmp_path, fixed, "ok.yaml")).scenario
    assert s.cluster.mode == "external" and s.node_count == 3


def test_dotted() -> None:
    assert dotted(("nemesis", "schedule", 0, "start")) == "nemesis.schedule[0].start"
    assert dotted(()) == ""


# -- mistakes the schema used to accept (issue 9): caught before anything starts -----------

@pytest.mark.parametrize("old, new, line, field, reason", [
    ("ttl: 2.5", "ttl: 0.001", 10, "workload.ttl", "not longer than the drift margin"),
    ("ttl: 2.5", "ttl: true", 10, "workload.ttl", "expected a number, got the boolean 'true'"),
    ("ttl: 2.5", "ttl: .inf", 10, "workload.ttl", "must be a finite number"),
    ("clients: 3", "clients: true", 4, "clients", "expected a number"),
    ("duration: 10", "duration: .nan", 3, "duration", "must be a finite number"),
    ("{fault: partition-halves, start: 1, duration: 2}", "{fault: partition-halves, start: 10, duration: 2}",
     14, "nemesis.schedule[0].start", "would never be injected"),
    ("targets: [n1]", "targets: [n1, n1]", 16, "nemesis.schedule[1].targets", "listed more than once"),
])
def test_issue9_mistakes_name_file_line_and_field(tmp_path: Path, old: str, new: str, line: int, field: str,
                                                  reason: str) -> None:
    error = error_for(tmp_path, replace(old, new))
    assert (error.line, error.field) == (line, field), str(error)
    assert reason in error.reason


def test_a_random_nemesis_starting_after_the_end_is_an_error(tmp_path: Path) -> None:
    text = replace("  schedule:\n    - {fault: partition-halves, start: 1, duration: 2}\n    - fault: kill\n"
                   "      targets: [n1]\n      start: 4\n      duration: 1\n",
                   "  random: {interval: 2, duration: 1, start: 12, mix: [pause]}\n")
    error = error_for(tmp_path, text)
    assert (error.line, error.field) == (13, "nemesis.random.start")


def test_client_slots_listed_twice_are_an_error(tmp_path: Path) -> None:
    text = replace("    - {fault: partition-halves, start: 1, duration: 2}\n",
                   "    - {fault: latency, start: 1, duration: 2, clients: [0, 0]}\n")
    error = error_for(tmp_path, text)
    assert error.field == "nemesis.schedule[0].clients" and "listed more than once" in error.reason


def test_a_boolean_where_the_field_is_boolean_is_fine(tmp_path: Path) -> None:
    text = replace("targets: [n1]", "targets: [n1]\n      empty: true")
    assert load_scenario(write(tmp_path, text)).scenario.nemesis.schedule[1].params.empty is True


@pytest.mark.parametrize("checker, options, field, reason", [
    ("mutex-graph", "{mutex-graph: {bogus: 1}}", "checker_options.mutex-graph.bogus", "takes no option bogus"),
])
def test_checker_options_the_checker_rejects_fail_before_the_run(tmp_path: Path, checker: str, options: str,
                                                                 field: str, reason: str) -> None:
    text = replace("expect: invalid", f"checker_options: {options}\nexpect: invalid")
    error = error_for(tmp_path, text)
    assert (error.line, error.field) == (20, field) and reason in error.reason


def test_register_checker_options_are_checked(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nduration: 5\nworkload: {type: register}\n"
                           "checker_options:\n  register: {initial: 0}\n")
    with pytest.raises(BadInput) as caught:
        load_scenario(path)
    assert (caught.value.line, caught.value.field) == (5, "checker_options.register.initial")
    ok = write(tmp_path, "name: x\nduration: 5\nworkload: {type: register}\n"
                         "checker_options:\n  register: {init: 0}\n", name="ok.yaml")
    assert load_scenario(ok).scenario.checker_options == {"register": {"init": 0}}
