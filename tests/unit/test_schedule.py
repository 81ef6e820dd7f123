"""The fault schedule: seeded replay, no self-overlap, everything stops in time; and the Nemesis thread."""

from __future__ import annotations

import dataclasses
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.faults.config import NemesisConfig
from harness.faults.schedule import FaultAction, Nemesis, build_schedule, describe_schedule, window_seed

MIXED = {"schedule": [{"fault": "partition-halves", "start": 2, "every": 8, "duration": 3},
                      {"fault": "kill", "start": 5, "duration": 2, "targets": "random", "empty": True}],
         "random": {"interval": 3, "duration": 2, "start": 1,
                    "mix": ["partition-node", "partition-bridge", "pause", "latency",
                            {"fault": "kill", "delay": 2}]}}


def summary(actions):
    return [(a.at, a.phase, a.fault_id, a.fault.kind, a.fault.params, a.seed) for a in actions]


class Links:
    """Minimal stand-in for the Cluster primitives the partition/kill faults call (no Redis)."""

    def __init__(self, nodes=5, clients=4):
        self.node_names = [f"n{i + 1}" for i in range(nodes)]
        self.clients = clients
        self.log = []
        self.healed = 0

    def cut(self, client, node, *, mode="drop"):
        self.log.append(("cut", client, node))

    def connect(self, client, node):
        self.log.append(("connect", client, node))

    def kill(self, node):
        self.log.append(("kill", node))

    def restart(self, node, *, empty=False):
        self.log.append(("restart", node, empty))

    def pause(self, node):
        self.log.append(("pause", node))

    def resume(self, node):
        self.log.append(("resume", node))

    def add_toxic(self, node, toxic_type, attributes, *, clients=None, stream="downstream", name=None):
        self.log.append(("toxic", node, name))

    def remove_toxics(self, node, *, clients=None, names=None):
        self.log.append(("untoxic", node, tuple(names or ())))

    def heal(self):
        self.healed += 1


def play(actions, cluster):
    """Start/stop every action in order, as the Nemesis does, returning the recorded values."""
    values = []
    for a in actions:
        value = a.fault.start(cluster, random.Random(a.seed)) if a.phase == "start" else a.fault.stop(cluster)
        values.append((a.fault_id, a.phase, value))
    return values


def test_same_seed_same_schedule():
    assert summary(build_schedule(NemesisConfig.model_validate(MIXED), 30, seed=11)) == \
        summary(build_schedule(NemesisConfig.model_validate(MIXED), 30, seed=11))


def test_different_seed_different_schedule():
    a = summary(build_schedule(NemesisConfig.model_validate(MIXED), 30, seed=1))
    b = summary(build_schedule(NemesisConfig.model_validate(MIXED), 30, seed=2))
    assert a != b
    assert [x[3] for x in a] != [x[3] for x in b]  # the random mix draws differ, not only the seeds


def test_seeded_replay_gives_the_same_targets():
    config = NemesisConfig.model_validate(MIXED)
    first, second = Links(), Links()
    values_a = play(build_schedule(config, 30, seed=5), first)
    values_b = play(build_schedule(config, 30, seed=5), second)
    assert values_a == values_b and first.log == second.log
    third = Links()
    play(build_schedule(config, 30, seed=6), third)
    assert third.log != first.log


def test_window_seed_is_stable_and_distinct():
    assert window_seed(1, 0) == window_seed(1, 0)
    assert len({window_seed(s, f) for s in range(10) for f in range(10)}) == 100
    assert 0 <= window_seed(1, 0) < 2**64


def test_scheduled_entry_timing():
    config = NemesisConfig.model_validate(
        {"schedule": [{"fault": "pause", "start": 2, "every": 8, "duration": 3}]})
    actions = build_schedule(config, 20, seed=0)
    assert [(a.at, a.phase) for a in actions] == [(2, "start"), (5, "stop"), (10, "start"), (13, "stop"),
                                                  (18, "start"), (20, "stop")]  # the last is cut at the end
    assert [a.fault_id for a in actions] == [0, 0, 1, 1, 2, 2]
    assert actions[0].fault is actions[1].fault and actions[0].fault is not actions[2].fault


def test_once_entry_past_the_end_is_dropped_and_kill_delay_extends_the_window():
    config = NemesisConfig.model_validate(
        {"schedule": [{"fault": "pause", "start": 25, "duration": 1},
                      {"fault": "kill", "start": 1, "duration": 2, "delay": 3}]})
    actions = build_schedule(config, 20, seed=0)
    assert [(a.at, a.phase, a.fault.kind, a.entry) for a in actions] == [
        (1, "start", "kill", "schedule.1"), (6, "stop", "kill", "schedule.1")]


def test_stops_come_before_starts_at_the_same_time():
    config = NemesisConfig.model_validate(
        {"schedule": [{"fault": "pause", "start": 0, "every": 2, "duration": 2}]})
    actions = build_schedule(config, 6, seed=0)
    assert [(a.at, a.phase) for a in actions] == [(0, "start"), (2, "stop"), (2, "start"), (4, "stop"),
                                                  (4, "start"), (6, "stop")]


def test_random_windows_do_not_overlap_even_when_longer_than_the_interval():
    config = NemesisConfig.model_validate(
        {"random": {"interval": 2, "duration": 3, "mix": ["pause", {"fault": "kill", "delay": 1}]}})
    actions = build_schedule(config, 40, seed=3)
    windows = windows_of(actions)
    for (_, a_stop), (b_start, _) in zip(windows, windows[1:]):
        assert b_start >= a_stop


def windows_of(actions):
    starts = {a.fault_id: a.at for a in actions if a.phase == "start"}
    stops = {a.fault_id: a.at for a in actions if a.phase == "stop"}
    assert starts.keys() == stops.keys()
    return [(starts[i], stops[i]) for i in sorted(starts)]


entry = st.fixed_dictionaries({
    "fault": st.sampled_from(["pause", "partition-halves", "latency", "kill"]),
    "start": st.floats(0, 30), "duration": st.floats(0.1, 5),
    "every": st.one_of(st.none(), st.floats(0.1, 10))})


@settings(max_examples=150, deadline=None)
@given(entries=st.lists(entry, max_size=4), duration=st.floats(1, 40), seed=st.integers(0, 2**32),
       rand=st.one_of(st.none(), st.fixed_dictionaries({"interval": st.floats(0.5, 5), "duration": st.floats(0.1, 6),
                                                         "start": st.floats(0, 10)})))
def test_schedule_properties(entries, duration, seed, rand):
    entries = [dict(e, every=None) if e["every"] is not None and e["every"] < e["duration"] else e
               for e in entries]
    data = {"schedule": entries}
    if rand:
        data["random"] = dict(rand, mix=["pause", "partition-node"])
    config = NemesisConfig.model_validate(data)
    actions = build_schedule(config, duration, seed)
    assert actions == sorted(actions, key=lambda a: (a.at, a.phase == "start", a.fault_id))
    assert all(0 <= a.at <= duration for a in actions)
    windows = windows_of(actions)
    assert list(range(len(windows))) == sorted({a.fault_id for a in actions})
    assert all(start <= stop for start, stop in windows)
    assert [w[0] for w in windows] == sorted(w[0] for w in windows)  # ids in start order
    # windows of one entry never overlap
    by_entry = {}
    for a in actions:
        if a.phase == "start":
            by_entry.setdefault(a.entry, []).append(windows[a.fault_id])
    for spans in by_entry.values():
        for (_, a_stop), (b_start, _) in zip(spans, spans[1:]):
            assert b_start >= a_stop
    assert summary(actions) == summary(build_schedule(config, duration, seed))


# -- the Nemesis thread ---------------------------------------------------------

def test_nemesis_runs_the_schedule_and_records_every_phase():
    config = NemesisConfig.model_validate(
        {"schedule": [{"fault": "partition-node", "start": 0.0, "duration": 0.05, "targets": ["n2"]},
                      {"fault": "pause", "start": 0.02, "duration": 0.05, "targets": ["n1"]}]})
    cluster = Links(3, 2)
    events = []
    nemesis = Nemesis(cluster, build_schedule(config, 1.0, seed=1), record=lambda f, v: events.append((f, v)))
    nemesis.start()
    deadline = time.monotonic() + 5
    while len(events) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    nemesis.stop_and_heal()
    assert [(f, v["phase"], v["fault_id"]) for f, v in events] == [
        ("partition-node", "start", 0), ("pause", "start", 1), ("partition-node", "stop", 0), ("pause", "stop", 1)]
    assert events[0][1]["isolated"] == ["n2"] and events[1][1]["nodes"] == ["n1"]
    assert cluster.healed == 1
    assert ("cut", 0, "n2") in cluster.log and ("resume", "n1") in cluster.log


def test_stop_and_heal_stops_active_faults_in_order_and_skips_future_ones():
    config = NemesisConfig.model_validate(
        {"schedule": [{"fault": "pause", "start": 0, "duration": 50, "targets": ["n1"]},
                      {"fault": "kill", "start": 0, "duration": 50, "targets": ["n2"]},
                      {"fault": "pause", "start": 40, "duration": 5, "targets": ["n3"]}]})
    cluster = Links(3, 1)
    events = []
    nemesis = Nemesis(cluster, build_schedule(config, 60, seed=1), record=lambda f, v: events.append((f, v)))
    nemesis.start()
    deadline = time.monotonic() + 5
    while len(events) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(nemesis.active) == ["kill", "pause"]
    started = time.monotonic()
    nemesis.stop_and_heal()
    assert time.monotonic() - started < 5  # does not wait for the schedule
    assert [(f, v["phase"], v["fault_id"]) for f, v in events] == [
        ("pause", "start", 0), ("kill", "start", 1), ("pause", "stop", 0), ("kill", "stop", 1)]
    assert ("pause", "n3") not in cluster.log
    assert events[3][1]["restarted"] == ["n2"]
    assert cluster.healed == 1 and nemesis.active == []
    nemesis.stop_and_heal()  # idempotent
    assert cluster.healed == 1


def test_a_failing_fault_is_recorded_and_the_run_goes_on():
    class Broken(Links):
        def pause(self, node):
            raise RuntimeError("kaput")

    config = NemesisConfig.model_validate(
        {"schedule": [{"fault": "pause", "start": 0, "duration": 0.02, "targets": ["n1"]},
                      {"fault": "partition-node", "start": 0.01, "duration": 0.02, "targets": ["n2"]}]})
    cluster = Broken(3, 1)
    events = []
    nemesis = Nemesis(cluster, build_schedule(config, 1, seed=1), record=lambda f, v: events.append((f, v)))
    nemesis.start()
    deadline = time.monotonic() + 5
    while len(events) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    nemesis.stop_and_heal()
    assert events[0] == ("pause", {"error": "RuntimeError: kaput", "phase": "start", "fault_id": 0})
    assert [(f, v["phase"]) for f, v in events[1:]] == [("partition-node", "start"), ("pause", "stop"),
                                                        ("partition-node", "stop")]
    assert nemesis.errors and "kaput" in nemesis.errors[0]


def test_nemesis_uses_the_injected_clock_and_origin():
    now = [100.0]
    config = NemesisConfig.model_validate({"schedule": [{"fault": "pause", "start": 5, "duration": 1,
                                                         "targets": ["n1"]}]})
    cluster = Links(2, 1)
    events = []
    nemesis = Nemesis(cluster, build_schedule(config, 10, 0), record=lambda f, v: events.append(v),
                      clock=lambda: now[0])
    nemesis.start(origin=96.0)  # run time 4 s: the pause is 1 s (of the fake clock) away
    time.sleep(0.1)
    assert events == []
    now[0] = 101.5  # run time 5.5 s
    deadline = time.monotonic() + 5
    while not events and time.monotonic() < deadline:
        time.sleep(0.01)
    # the thread waits real seconds computed from the fake clock (1 s); allow it
    nemesis.stop_and_heal()
    assert events[0]["phase"] == "start"


def test_fault_action_is_a_frozen_value():
    action = build_schedule({"schedule": [{"fault": "pause", "duration": 1}]}, 5, 0)[0]
    assert isinstance(action, FaultAction)
    with pytest.raises(dataclasses.FrozenInstanceError):
        action.at = 3  # type: ignore[misc]


def test_describe_schedule_is_json_able():
    import json
    rows = describe_schedule(build_schedule({"schedule": [{"fault": "kill", "duration": 1, "targets": ["n1"]}]}, 5, 0))
    assert json.loads(json.dumps(rows)) == [
        {"at": 0.0, "phase": "start", "fault_id": 0, "fault": "kill", "entry": "schedule.0",
         "params": {"targets": ["n1"], "restart": True, "empty": False, "delay": 0.0}},
        {"at": 1.0, "phase": "stop", "fault_id": 0, "fault": "kill", "entry": "schedule.0",
         "params": {"targets": ["n1"], "restart": True, "empty": False, "delay": 0.0}}]
