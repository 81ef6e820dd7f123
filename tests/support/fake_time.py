"""A hand-driven clock and a fan-out wrapper that lets time pass while a call is in flight.

Built for `MajorityRedis(clients, clock=FakeClock())`: the library reads only
`mr.clock` for validity, so a test decides exactly how long each round trip
"took" and can assert validities to the microsecond. `SlowFanout` wraps the
real `mr.fanout` (real redis-server replies) and advances the clock by the
delay set for a script before the call returns, as if its replies had arrived
that much later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from majorityredis.fanout import Command, Fanout, Replies
from majorityredis.scripts import Script


class FakeClock:
    """A monotonic clock that moves only when told to (seconds)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "a monotonic clock never goes back"
        self.now += seconds


class SlowFanout:
    """The real fan-out, except that a call of a script in `delays` returns `delays[name]` s later.

    `calls` records, in order, the script name (or the command's first word)
    of every call, so a test can assert that a step was — or was not — sent.
    """

    def __init__(self, inner: Fanout, clock: FakeClock, scripts: Iterable[Script]) -> None:
        self.inner = inner
        self.clock = clock
        self.delays: dict[str, float] = {}
        self.calls: list[str] = []
        self._names: dict[str, str] = {}
        for script in scripts:
            self._names[script.sha] = self._names[script.source] = script.name

    def call(self, commands: Command | Mapping[int, Command], *args: Any, **kwargs: Any) -> Replies:
        name = self.name_of(commands)
        self.calls.append(name)
        replies = self.inner.call(commands, *args, **kwargs)
        self.clock.advance(self.delays.get(name, 0.0))
        return replies

    def name_of(self, commands: Command | Mapping[int, Command]) -> str:
        command = commands if isinstance(commands, Command) else next(iter(commands.values()))
        word = str(command.args[0]).upper()
        if word in ("EVAL", "EVALSHA"):
            return self._names.get(str(command.args[1]), "unknown script")
        return word

    def __getattr__(self, attribute: str) -> Any:  # close() and anything else: the real fan-out's
        return getattr(self.inner, attribute)
