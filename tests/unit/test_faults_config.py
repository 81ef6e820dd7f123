"""The nemesis section of a scenario: what is accepted, and errors that name the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from harness.faults import FAULTS
from harness.faults.config import NemesisConfig


def errors(data: dict) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as info:
        NemesisConfig.model_validate(data)
    return [(e["loc"], e["msg"]) for e in info.value.errors()]


def test_the_contract_example_is_valid_and_round_trips():
    data = {"schedule": [{"fault": "partition-halves", "start": 2, "every": 8, "duration": 3},
                         {"fault": "kill", "start": 5, "duration": 2, "targets": ["n1"], "empty": False}],
            "random": {"interval": 5, "duration": 3, "mix": ["partition-halves", "kill", "pause"], "start": 1}}
    config = NemesisConfig.model_validate(data)
    assert config.schedule[1].params.targets == ["n1"]
    assert config.schedule[1].params.empty is False
    assert [m.fault for m in config.random.mix] == ["partition-halves", "kill", "pause"]
    dumped = config.model_dump()
    assert dumped["schedule"][1]["targets"] == ["n1"] and "params" not in dumped["schedule"][1]
    assert NemesisConfig.model_validate(dumped) == config


def test_empty_nemesis_is_allowed():
    assert NemesisConfig().is_empty()
    assert NemesisConfig.model_validate({}).is_empty()


def test_unknown_fault_is_reported_at_the_fault_field_with_the_known_kinds():
    [(loc, msg)] = errors({"schedule": [{"fault": "partition-halfs", "duration": 1}]})
    assert loc == ("schedule", 0, "fault")
    assert "unknown fault 'partition-halfs'" in msg and "partition-halves" in msg


def test_unknown_param_names_the_field():
    [(loc, msg)] = errors({"schedule": [{"fault": "pause", "duration": 1},
                                        {"fault": "kill", "duration": 1, "emtpy": True}]})
    assert loc == ("schedule", 1, "emtpy")
    assert "Extra inputs are not permitted" in msg


def test_param_of_another_fault_is_unknown_here():
    [(loc, _)] = errors({"schedule": [{"fault": "pause", "duration": 1, "latency_ms": 5}]})
    assert loc == ("schedule", 0, "latency_ms")


def test_bad_param_value_names_the_field():
    [(loc, msg)] = errors({"schedule": [{"fault": "partition-node", "duration": 1, "mode": "cut"}]})
    assert loc == ("schedule", 0, "mode") and "'drop' or 'refuse'" in msg
    [(loc, msg)] = errors({"schedule": [{"fault": "latency", "duration": 1, "latency_ms": -5}]})
    assert loc == ("schedule", 0, "latency_ms")
    [(loc, msg)] = errors({"schedule": [{"fault": "kill", "duration": 1, "targets": 0}]})
    assert loc == ("schedule", 0, "targets") and "non-empty list of node names" in msg
    [(loc, msg)] = errors({"schedule": [{"fault": "latency", "duration": 1, "clients": "some"}]})
    assert loc == ("schedule", 0, "clients") and "client slots" in msg


def test_timing_errors():
    [(loc, _)] = errors({"schedule": [{"fault": "pause"}]})
    assert loc == ("schedule", 0, "duration")
    [(loc, _)] = errors({"schedule": [{"fault": "pause", "duration": 0}]})
    assert loc == ("schedule", 0, "duration")
    [(loc, _)] = errors({"schedule": [{"fault": "pause", "duration": 1, "start": -1}]})
    assert loc == ("schedule", 0, "start")
    [(loc, _)] = errors({"schedule": [{"duration": 1}]})
    assert loc == ("schedule", 0, "fault")


def test_an_entry_may_not_overlap_itself():
    [(loc, msg)] = errors({"schedule": [{"fault": "pause", "duration": 3, "every": 2}]})
    assert loc == ("schedule", 0) and "never overlaps itself" in msg
    # a kill's restart delay counts as part of its window
    [(_, msg)] = errors({"schedule": [{"fault": "kill", "duration": 2, "every": 3, "delay": 2}]})
    assert "delay" in msg
    NemesisConfig.model_validate({"schedule": [{"fault": "pause", "duration": 2, "every": 2}]})


def test_random_mix_items_are_kinds_or_kinds_with_params():
    config = NemesisConfig.model_validate(
        {"random": {"interval": 4, "duration": 2, "mix": ["pause", {"fault": "kill", "empty": True}]}})
    assert config.random.mix[1].params.empty is True
    [(loc, _)] = errors({"random": {"interval": 4, "duration": 2, "mix": ["pause", "explode"]}})
    assert loc == ("random", "mix", 1, "fault")
    [(loc, _)] = errors({"random": {"interval": 4, "duration": 2, "mix": [{"fault": "kill", "emty": 1}]}})
    assert loc == ("random", "mix", 0, "emty")
    [(loc, _)] = errors({"random": {"interval": 4, "duration": 2, "mix": []}})
    assert loc == ("random", "mix")
    [(loc, _)] = errors({"random": {"interval": 4, "duration": 2, "mix": ["pause"], "every": 3}})
    assert loc == ("random", "every")


def test_unknown_top_level_key():
    [(loc, _)] = errors({"schedul": []})
    assert loc == ("schedul",)


def test_problems_names_targets_that_do_not_exist_in_the_cluster():
    config = NemesisConfig.model_validate({
        "schedule": [{"fault": "kill", "duration": 1, "targets": ["n9"]},
                     {"fault": "pause", "duration": 1, "targets": 7},
                     {"fault": "partition-client", "duration": 1, "client": 4},
                     {"fault": "latency", "duration": 1, "clients": [0, 1]}],
        "random": {"interval": 2, "duration": 1, "mix": [{"fault": "partition-node", "targets": "n3"}]}})
    problems = config.problems(["n1", "n2", "n3"], 2)
    assert [loc for loc, _ in problems] == [("schedule", 0, "targets"), ("schedule", 1, "targets"),
                                           ("schedule", 2, "client")]
    assert "unknown node(s) ['n9']" in problems[0][1]
    assert config.problems(["n1", "n2", "n3", "n4", "n5", "n6", "n7", "n9"], 5) == []


def test_schedule_field_names_are_never_fault_params():
    for cls in FAULTS.values():
        assert not {"fault", "start", "every", "duration"} & set(cls.Params.model_fields)
