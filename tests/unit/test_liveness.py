"""majorityredis.liveness: when a node counts as silent, and when it is heard again."""

from __future__ import annotations

import redis

from majorityredis.liveness import REPROBE_TIMEOUTS, Silence, is_silence


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_node_is_silent_after_missing_a_call_more_than_a_timeout_ago() -> None:
    clock = Clock()
    silence = Silence(3, clock, timeout=1.0)
    silence.note({0: b"ok", 1: b"ok", 2: TimeoutError("no reply within the deadline")}, started=99.0)
    assert silence.silent() == frozenset()        # missed a call begun 1 s ago: not longer than it
    clock.now = 100.5
    assert silence.silent() == {2}
    assert not silence.awaited_all({0}, quorum=2)        # never before a quorum answered
    assert silence.awaited_all({0, 1}, quorum=2)         # node 2 is not waited for
    assert not Silence(3, clock, 1.0).awaited_all({0, 1}, quorum=2)   # nobody silent: wait for all


def test_any_answer_clears_it_and_early_returns_tell_nothing() -> None:
    clock = Clock()
    silence = Silence(3, clock, timeout=1.0)
    silence.note({2: redis.exceptions.TimeoutError("Timeout reading from socket")}, started=90.0)
    assert silence.silent() == {2}
    silence.note({0: 1, 1: 1}, started=100.0)           # a call decided without node 2
    assert silence.silent() == {2}
    silence.note({2: redis.exceptions.ResponseError("WRONGTYPE")}, started=100.0)   # an answer
    assert silence.silent() == frozenset()


def test_a_silent_node_is_waited_for_again_after_the_reprobe_period() -> None:
    clock = Clock()
    silence = Silence(3, clock, timeout=1.0)
    silence.note({2: TimeoutError()}, started=90.0)
    assert silence.silent() == {2}
    clock.now += REPROBE_TIMEOUTS + 0.1
    assert silence.silent() == frozenset()              # probe it once more ...
    silence.note({2: TimeoutError()}, started=clock.now - 1.0)
    assert silence.silent() == {2}                      # ... still silent: skipped again


def test_only_timeouts_are_silence() -> None:
    assert is_silence(TimeoutError()) and is_silence(redis.exceptions.TimeoutError())
    assert not is_silence(redis.exceptions.ConnectionError("refused"))   # it answered: down
    assert not is_silence(b"OK") and not is_silence(0)
