"""Pure sequential models for the linearizability checker (Porcupine's `model.go` shape).

A model turns each history op into a compact *input* once (`prepare`; None =
the op constrains nothing and is dropped: `fail` ops never took effect, a read
whose outcome is unknown returned nothing), then the search calls
`step(state, input) -> (ok, new_state)` millions of times, so inputs are plain
tuples and states are hashable. `partition` splits the history into parts that
are checked on their own (P-compositionality): operations on different keys are
independent. `describe_*` serve the explanation of a failure.

`info` ops may take effect at any point after their invocation or never: the
checker gives them an infinite return time, so "never" is "last, after every
other op", and their step must therefore accept every state (an unknown cas
whose expected value does not match simply did not change anything).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, ClassVar, Protocol

from harness.errors import BadInput
from harness.history.events import Op

State = Hashable
Input = tuple[Any, ...]

# Input tags (small ints: the step functions compare them with `is`/`==` cheaply).
READ, WRITE, CAS, CAS_MAYBE, APPEND = 0, 1, 2, 3, 4
ACQUIRE, ACQUIRE_MAYBE, RELEASE, RELEASE_MAYBE = 5, 6, 7, 8


class Model(Protocol):
    """A pure sequential specification."""

    name: str

    def init(self) -> State: ...

    def prepare(self, op: Op) -> Input | None: ...

    def step(self, state: State, op: Input) -> tuple[bool, State]: ...

    def partition(self, ops: list[Op]) -> dict[Any, list[Op]]: ...

    def describe_op(self, op: Input) -> str: ...

    def describe_state(self, state: State) -> str: ...


def freeze(value: Any) -> Hashable:
    """Lists -> tuples and dicts -> sorted item tuples, so values can be states."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    return value


def _unknown_f(model: str, op: Op, known: Iterable[str]) -> BadInput:
    return BadInput(None, (
        f"model {model!r} does not know f {op.f!r} (index {op.index}); it knows "
        f"{', '.join(known)}: choose another --model"), field="f")


class _ByKey:
    """Partition by the op's `key`: different keys are independent registers / locks."""

    def partition(self, ops: list[Op]) -> dict[Any, list[Op]]:
        parts: dict[Any, list[Op]] = {}
        for op in ops:
            parts.setdefault(freeze(op.key), []).append(op)
        return parts


class RegisterModel(_ByKey):
    """A register with `read` and `write`, initially absent (`None`) unless `init` is given."""

    name: ClassVar[str] = "register"
    knows: ClassVar[tuple[str, ...]] = ("read", "write")

    def __init__(self, init: Any = None) -> None:
        self._init = freeze(init)

    def init(self) -> State:
        return self._init

    def prepare(self, op: Op) -> Input | None:
        if op.f == "read":
            # An unknown read returned nothing, a failed one did not happen: no constraint.
            return (READ, freeze(op.result)) if op.type == "ok" else None
        if op.f == "write":
            return None if op.type == "fail" else (WRITE, freeze(op.value))
        return self.prepare_other(op)

    def prepare_other(self, op: Op) -> Input | None:
        raise _unknown_f(self.name, op, self.knows)

    @staticmethod
    def step(state: State, op: Input) -> tuple[bool, State]:
        tag = op[0]
        if tag == READ:
            return op[1] == state, state
        if tag == WRITE:
            return True, op[1]
        if tag == CAS:
            return state == op[1], op[2]
        # CAS_MAYBE: it took effect if the value matched, else it changed nothing.
        return True, (op[2] if state == op[1] else state)

    def describe_op(self, op: Input) -> str:
        tag = op[0]
        if tag == READ:
            return f"read {_show(op[1])}"
        if tag == WRITE:
            return f"write {_show(op[1])}"
        suffix = "" if tag == CAS else " (outcome unknown)"
        return f"cas {_show(op[1])}->{_show(op[2])}{suffix}"

    def describe_state(self, state: State) -> str:
        return _show(state)


class CasRegisterModel(RegisterModel):
    """A register with `read`, `write` and `cas [expected new]`; a `fail` cas did not take effect."""

    name: ClassVar[str] = "cas-register"
    knows: ClassVar[tuple[str, ...]] = ("read", "write", "cas")

    def prepare_other(self, op: Op) -> Input | None:
        if op.f != "cas":
            raise _unknown_f(self.name, op, self.knows)
        if op.type == "fail":
            return None
        value = op.value
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise BadInput(None, f"cas value must be [expected, new], got {value!r} (index {op.index})",
                           field="value")
        expected, new = freeze(value[0]), freeze(value[1])
        return (CAS, expected, new) if op.type == "ok" else (CAS_MAYBE, expected, new)


class KVModel(_ByKey):
    """Per-key string store: `get` returns the value, `put v` sets it, `append v` concatenates.

    Each key starts at `init` (default ""); a `get` returning null reads the initial value.
    """

    name: ClassVar[str] = "kv"
    knows: ClassVar[tuple[str, ...]] = ("get", "put", "append")

    def __init__(self, init: Any = "") -> None:
        self._init = "" if init is None else str(init)

    def init(self) -> State:
        return self._init

    def prepare(self, op: Op) -> Input | None:
        if op.f == "get":
            if op.type != "ok":
                return None
            return (READ, self._init if op.result is None else str(op.result))
        if op.f in ("put", "append"):
            if op.type == "fail":
                return None
            return (WRITE if op.f == "put" else APPEND, "" if op.value is None else str(op.value))
        raise _unknown_f(self.name, op, self.knows)

    @staticmethod
    def step(state: State, op: Input) -> tuple[bool, State]:
        tag = op[0]
        if tag == READ:
            return op[1] == state, state
        if tag == WRITE:
            return True, op[1]
        return True, state + op[1]  # type: ignore[operator]

    def describe_op(self, op: Input) -> str:
        return {READ: "get", WRITE: "put", APPEND: "append"}[op[0]] + f" {_short(op[1])}"

    def describe_state(self, state: State) -> str:
        return _short(state)


class MutexModel(_ByKey):
    """A lock per key: `acquire` needs it free, `release` needs the releasing process to hold it.

    The holder is the process. Other lock-workload ops (`use`, `extend`) are
    ignored: validity expiry is beyond a sequential mutex; see the mutex-graph checker.
    """

    name: ClassVar[str] = "mutex"
    knows: ClassVar[tuple[str, ...]] = ("acquire", "release")

    def init(self) -> State:
        return None

    def prepare(self, op: Op) -> Input | None:
        if op.type == "fail" or op.f not in self.knows:
            return None
        certain = op.type == "ok"
        if op.f == "acquire":
            return (ACQUIRE if certain else ACQUIRE_MAYBE, op.process)
        return (RELEASE if certain else RELEASE_MAYBE, op.process)

    @staticmethod
    def step(state: State, op: Input) -> tuple[bool, State]:
        tag, holder = op
        if tag == ACQUIRE:
            return state is None, holder
        if tag == RELEASE:
            return state == holder, None
        if tag == ACQUIRE_MAYBE:
            return True, (holder if state is None else state)
        return True, (None if state == holder else state)

    def describe_op(self, op: Input) -> str:
        verb = "acquire" if op[0] in (ACQUIRE, ACQUIRE_MAYBE) else "release"
        unknown = " (outcome unknown)" if op[0] in (ACQUIRE_MAYBE, RELEASE_MAYBE) else ""
        return f"{verb}{unknown}"

    def describe_state(self, state: State) -> str:
        return "free" if state is None else f"held by process {state!r}"


# name -> constructor(init) ; a new model is one class and one entry.
MODELS: dict[str, type] = {
    "register": RegisterModel,
    "cas-register": CasRegisterModel,
    "kv": KVModel,
    "mutex": MutexModel,
}
MODELS_WITH_INIT = ("register", "cas-register", "kv")


def make_model(name: str, **options: Any) -> Model:
    """Instantiate a model by name; `init` is accepted by register, cas-register and kv."""
    if "init" in options and name not in MODELS_WITH_INIT:
        raise BadInput(None, f"--init applies to {', '.join(MODELS_WITH_INIT)}, not {name!r}", field="init")
    unknown = set(options) - {"init"}
    if unknown:
        raise BadInput(None, f"model {name!r} takes no option {', '.join(sorted(unknown))}",
                       field=sorted(unknown)[0])
    return MODELS[name](**options)  # type: ignore[no-any-return]


def _short(text: Any, keep: int = 48) -> str:
    """A long string shown by its end (appends differ at the end), with its length."""
    if not isinstance(text, str) or len(text) <= keep:
        return repr(text)
    return f"'…{text[-keep:]}' ({len(text)} chars)"


def _show(value: Any) -> str:
    return "absent (null)" if value is None else repr(value)
