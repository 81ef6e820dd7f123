"""Read a history file into events, whatever its format.

Three formats are recognised from the first non-blank line:

- our JSON Lines (`history.jsonl`, docs/design.md §2): ``{"index": 0, "time": 1200, ...}``;
- Jepsen EDN: one map per line (``{:process 0, :type :invoke, :f :read, :value nil}``)
  or a single vector of maps; parsed with the `edn_format` library (a fast path
  handles the common flat one-line maps and is checked against it by tests);
- Jepsen 0.0.x log lines: ``INFO  jepsen.util - 3	:invoke	:cas	[2 0]`` (tabs or spaces).

Formats without times get the event's position as its time: checkers only use
the order. Malformed input raises `BadInput(path, reason, line=, field=)`.

What a verdict may rest on is checked here, so that a corrupted field can never turn
an invalid history valid:

- `time` is an integer number of nanoseconds in [0, 2**63) — never a float, NaN,
  ±Infinity or a bool; either every event of a file carries a time or none does
  (then each event's position is its time);
- `index` is an integer and unique in the file; an event without one gets its
  position (0-based, counting events) — so a file may leave every index out;
- JSON's non-standard constants NaN, Infinity and -Infinity are rejected in any field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import edn_format
from edn_format.edn_lex import Keyword, Symbol

from harness.errors import BadInput
from harness.history.events import EVENT_TYPES, NEMESIS, Event

_KNOWN_FIELDS = ("index", "time", "process", "type", "f", "value", "key")
MAX_TIME = 2 ** 63  # times are int64 nanoseconds, as in Jepsen
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_JSON_START = re.compile(r'\{\s*("|\})')


def read_history(path: str | Path) -> list[Event]:
    """Read the history at `path` (format auto-detected); an empty file is an empty history.

    Raises `BadInput` naming the file, the 1-based line and the field on malformed
    input, including a process that invokes while its previous operation is in
    flight or completes an operation it never invoked.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(source, "no such file; give the path of a history (history.jsonl, .edn or a Jepsen log)") \
            from None
    except IsADirectoryError:
        raise BadInput(source, "is a directory; give the history file inside it (e.g. history.jsonl)") from None
    except UnicodeDecodeError as error:
        raise BadInput(source, f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise BadInput(source, f"cannot read: {error.strerror}") from None
    return parse_history(text, source=source)


def parse_history(text: str, *, source: str | None = None) -> list[Event]:
    """Parse the text of a history (see `read_history`)."""
    lines = text.splitlines()
    first = next((n for n, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return []
    parser = _detect(lines[first], source, first + 1)
    events, line_numbers = parser(lines, source)
    _check_indices(events, line_numbers, source)
    _check_processes(events, line_numbers, source)
    return events


# A parser takes the lines and the source name, and returns the events with their 1-based line numbers.
Parser = Callable[[list[str], "str | None"], "tuple[list[Event], list[int | None]]"]


def _detect(line: str, source: str | None, number: int) -> Parser:
    stripped = line.strip()
    if _JSON_START.match(stripped):
        return _parse_jsonl
    if stripped.startswith(("{", "[")):
        return _parse_edn
    if "jepsen.util" in stripped or stripped.split()[0] in _LOG_LEVELS or _LOG_EVENT.match(stripped):
        return _parse_log
    raise BadInput(source, (
        f"unrecognised history format (line starts with {stripped[:40]!r}); expected JSON Lines "
        "(our history.jsonl), Jepsen EDN maps or Jepsen log lines"), line=number)


# --------------------------------------------------------------------------- JSON Lines

class _NonFinite:
    """What json.loads makes of NaN / Infinity / -Infinity here: a marker, reported with its field."""

    def __init__(self, text: str) -> None:
        self.text = text


def _contains_non_finite(value: Any) -> _NonFinite | None:
    if isinstance(value, _NonFinite):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = _contains_non_finite(item)
            if found is not None:
                return found
    return None


def _parse_jsonl(lines: list[str], source: str | None) -> tuple[list[Event], list[int | None]]:
    events: list[Event] = []
    numbers: list[int | None] = []
    timed: list[bool] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_constant=_NonFinite)
        except json.JSONDecodeError as error:
            raise BadInput(source, f"invalid JSON: {error.msg} at column {error.colno}", line=number) from None
        if not isinstance(record, dict):
            raise BadInput(source, f"expected a JSON object per line, got {type(record).__name__}", line=number)
        for name, value in record.items():
            bad = _contains_non_finite(value)
            if bad is not None:
                raise BadInput(source, f"{bad.text} is not a number JSON allows (non-finite values are "
                               "rejected)", line=number, field=str(name))
        events.append(_event_from_mapping(record, len(events), source, number))
        numbers.append(number)
        timed.append("time" in record)
    _check_times_all_or_none(timed, numbers, source)
    return events, numbers


def _event_from_mapping(record: Mapping[str, Any], position: int, source: str | None,
                        number: int | None) -> Event:
    """Build an Event from a decoded record whose keys are field names."""
    for name in ("type", "process", "f"):
        if name not in record:
            raise BadInput(source, f"missing field {name!r}", line=number, field=name)
    kind = record["type"]
    if kind not in EVENT_TYPES:
        raise BadInput(source, f"type must be one of {', '.join(EVENT_TYPES)}, got {kind!r}",
                       line=number, field="type")
    process = record["process"]
    if isinstance(process, bool) or not isinstance(process, (int, str)):
        raise BadInput(source, f"process must be an integer or a string, got {process!r}",
                       line=number, field="process")
    f = record["f"]
    if not isinstance(f, str) or not f:
        raise BadInput(source, f"f must be a non-empty string, got {f!r}", line=number, field="f")
    index = record.get("index", position)
    if isinstance(index, bool) or not isinstance(index, int):
        raise BadInput(source, f"index must be an integer, got {index!r}", line=number, field="index")
    time = record.get("time", position)
    if isinstance(time, bool) or not isinstance(time, int) or not 0 <= time < MAX_TIME:
        raise BadInput(source, f"time must be an integer number of nanoseconds in [0, 2**63), got "
                       f"{str(time)[:40] if isinstance(time, int) else repr(time)[:40]}",
                       line=number, field="time")
    extra = {k: v for k, v in record.items() if k not in _KNOWN_FIELDS}
    return Event(index=index, time=time, process=process, type=kind, f=f,
                 value=record.get("value"), key=record.get("key"),
                 extra=MappingProxyType(extra) if extra else _EMPTY)


# --------------------------------------------------------------------------- EDN

def _parse_edn(lines: list[str], source: str | None) -> tuple[list[Event], list[int | None]]:
    first = next(line for line in lines if line.strip()).strip()
    if first.startswith("["):
        return _parse_edn_vector("\n".join(lines), source)
    events: list[Event] = []
    numbers: list[int | None] = []
    timed: list[bool] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        record = _fast_edn_map(stripped)
        if record is None:
            record = _edn_loads_one(stripped, source, number)
        if not isinstance(record, dict):
            raise BadInput(source, f"expected an EDN map per line, got {stripped[:40]!r}", line=number)
        normalised = _normalise_record(record)
        events.append(_event_from_mapping(normalised, len(events), source, number))
        numbers.append(number)
        timed.append("time" in normalised)
    _check_times_all_or_none(timed, numbers, source)
    return events, numbers


def _parse_edn_vector(text: str, source: str | None) -> tuple[list[Event], list[int | None]]:
    try:
        values = edn_format.loads_all(text)
    except Exception as error:  # noqa: BLE001 - edn_format raises EDNDecodeError and, on odd input, others
        raise BadInput(source, f"invalid EDN: {error}") from None
    if len(values) != 1 or isinstance(values[0], (str, Mapping)) or not isinstance(values[0], Sequence):
        raise BadInput(source, "expected one EDN vector of operation maps")
    events: list[Event] = []
    timed: list[bool] = []
    for position, value in enumerate(values[0]):
        record = _from_edn(value)
        if not isinstance(record, dict):
            raise BadInput(source, f"element {position} of the vector is not a map", field=f"[{position}]")
        normalised = _normalise_record(record)
        events.append(_event_from_mapping(normalised, position, source, None))
        timed.append("time" in normalised)
    numbers: list[int | None] = [None] * len(events)
    _check_times_all_or_none(timed, numbers, source)
    return events, numbers


def _edn_loads_one(text: str, source: str | None, number: int) -> Any:
    try:
        values = edn_format.loads_all(text)
    except Exception as error:  # noqa: BLE001 - edn_format raises EDNDecodeError and, on odd input, others
        raise BadInput(source, f"invalid EDN: {error}", line=number) from None
    if len(values) != 1:
        raise BadInput(source, f"expected one EDN map on the line, found {len(values)} values", line=number)
    return _from_edn(values[0])


def _from_edn(value: Any) -> Any:
    """EDN values as plain Python: keywords and symbols -> their names, vectors -> lists, maps -> dicts."""
    if isinstance(value, (Keyword, Symbol)):
        return value.name
    if isinstance(value, Mapping):
        return {_from_edn(k): _from_edn(v) for k, v in value.items()}
    if isinstance(value, str):
        return str(value)  # edn_format.Char is a str subclass
    if isinstance(value, Sequence):  # vectors and lists (edn_format.ImmutableList)
        return [_from_edn(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_from_edn(v) for v in value), key=repr)
    return value


def _normalise_record(record: dict[Any, Any]) -> dict[str, Any]:
    # Jepsen's processes are integers, or the keyword :nemesis (already a name here).
    return {str(k): v for k, v in record.items()}


# The fast path: a flat one-line map whose values are nil/true/false, integers,
# keywords, strings without escapes, or vectors of those scalars. Anything else
# goes to edn_format; tests check both give the same result on the corpus.
_SCALAR = r'(?:nil|true|false|[-+]?\d+|:[A-Za-z_*!?<>=.\-][\w*+!?<>=.\-/]*|"[^"\\\n]*")'
_VALUE = rf'(?:{_SCALAR}|\[\s*(?:{_SCALAR}(?:[\s,]+{_SCALAR})*)?\s*\])'
_PAIR = rf':([A-Za-z_*!?<>=.\-][\w*+!?<>=.\-/]*)\s+({_VALUE})'
_FLAT_MAP = re.compile(rf'\{{\s*(?:{_PAIR}(?:[\s,]+{_PAIR})*)?[\s,]*\}}')
_PAIR_RE = re.compile(_PAIR)
_SCALAR_RE = re.compile(_SCALAR)
_VALUE_RE = re.compile(_VALUE)
_INT_RE = re.compile(r'[-+]?\d+')


def _fast_edn_map(text: str) -> dict[str, Any] | None:
    if not _FLAT_MAP.fullmatch(text):
        return None
    record: dict[str, Any] = {}
    for key, raw in _PAIR_RE.findall(text):
        if key in record:
            return None  # let edn_format report the duplicate key
        record[key] = _fast_value(raw)
    return record


def _fast_value(raw: str) -> Any:
    if raw.startswith("["):
        return [_fast_scalar(token) for token in _SCALAR_RE.findall(raw)]
    return _fast_scalar(raw)


def _fast_scalar(token: str) -> Any:
    if token == "nil":
        return None
    if token == "true":
        return True
    if token == "false":
        return False
    if token.startswith(":"):
        return token[1:]
    if token.startswith('"'):
        return token[1:-1]
    return int(token)


# --------------------------------------------------------------------------- Jepsen 0.0.x logs

_LOG_EVENT = re.compile(r'(?P<process>:?[\w\-]+)\s+:(?P<type>invoke|ok|fail|info)\s+(?P<f>:?\S+)'
                        r'(?:\s+(?P<value>.*?))?\s*$')


def _parse_log(lines: list[str], source: str | None) -> tuple[list[Event], list[int | None]]:
    events: list[Event] = []
    numbers: list[int | None] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        marker = stripped.find("jepsen.util - ")
        if marker >= 0:
            body = stripped[marker + len("jepsen.util - "):]
        elif stripped.split(None, 1)[0] in _LOG_LEVELS:
            continue  # other log output of the run
        else:
            body = stripped
        match = _LOG_EVENT.fullmatch(body)
        if match is None:
            raise BadInput(source, (
                f"not a Jepsen log event {body[:60]!r}; expected 'PROCESS :TYPE :F VALUE' with TYPE one "
                "of invoke, ok, fail, info"), line=number)
        process_text = match["process"]
        process: int | str
        if _INT_RE.fullmatch(process_text):
            process = int(process_text)
        else:
            process = process_text.lstrip(":")
        value_text = match["value"]
        value = None if value_text is None else _log_value(value_text, source, number)
        events.append(Event(index=len(events), time=len(events), process=process,
                            type=match["type"], f=match["f"].lstrip(":"), value=value))
        numbers.append(number)
    return events, numbers


def _log_value(text: str, source: str | None, number: int) -> Any:
    if _VALUE_RE.fullmatch(text):
        return _fast_value(text)
    try:
        values = edn_format.loads_all(text)
    except Exception as error:  # noqa: BLE001 - edn_format raises EDNDecodeError and, on odd input, others
        raise BadInput(source, f"invalid EDN value {text[:40]!r}: {error}", line=number, field="value") from None
    if len(values) != 1:
        raise BadInput(source, f"expected one value, got {text[:40]!r}", line=number, field="value")
    return _from_edn(values[0])


# --------------------------------------------------------------------------- structure

def _check_times_all_or_none(timed: list[bool], numbers: list[int | None], source: str | None) -> None:
    """Either every event has a time or none has: a position mixed with nanoseconds reorders ops."""
    if all(timed) or not any(timed):
        return
    missing = timed.index(False)
    present = timed.index(True)
    timed_one = f"at line {numbers[present]}" if numbers[present] else f"at position {present}"
    raise BadInput(source, f"missing field 'time' (the event {timed_one} has one): give every event a time, "
                   "or none", line=numbers[missing], field="time")


def _check_indices(events: list[Event], numbers: list[int | None], source: str | None) -> None:
    """Indices name events in verdicts and anomalies: each must be unique."""
    seen: dict[int, int] = {}
    for position, event in enumerate(events):
        first = seen.setdefault(event.index, position)
        if first != position:
            where = numbers[first]
            raise BadInput(source, (
                f"duplicate index {event.index} (also the index of the event "
                f"{'at line ' + str(where) if where else 'at position ' + str(first)}; an event "
                "without an index gets its position)"), line=numbers[position], field="index")


def _check_processes(events: list[Event], numbers: list[int | None], source: str | None) -> None:
    """Each client process alternates invoke / completion (one operation in flight at a time),
    and no completion is timed before its invocation."""
    in_flight: dict[int | str, int] = {}
    for position, event in enumerate(events):
        if event.process == NEMESIS:
            continue
        if event.type == "invoke":
            if event.process in in_flight:
                earlier = events[in_flight[event.process]]
                where = numbers[in_flight[event.process]]
                raise BadInput(source, (
                    f"process {event.process!r} invokes {event.f!r} while its {earlier.f!r} invoked "
                    f"{'at line ' + str(where) if where else 'earlier'} has not completed; a process has "
                    "at most one operation in flight"), line=numbers[position], field="process")
            in_flight[event.process] = position
        else:
            invoked = in_flight.pop(event.process, None)
            if invoked is None:
                raise BadInput(source, (
                    f"process {event.process!r} completes {event.f!r} ({event.type}) without a pending "
                    "invocation"), line=numbers[position], field="process")
            if event.time < events[invoked].time:
                raise BadInput(source, (
                    f"completion at time {event.time} is earlier than its invocation at time "
                    f"{events[invoked].time}; times must come from one monotonic clock"),
                    line=numbers[position], field="time")
