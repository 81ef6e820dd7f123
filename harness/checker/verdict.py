"""What a checker returns: a verdict with its anomalies, pointing at history indices."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Union

from harness.exitcodes import combine

Validity = Union[bool, Literal["unknown"]]


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One thing wrong (or, as a warning, suspicious) in a history.

    `indices` are the `index` of the events involved; `details` is JSON-able.
    """

    kind: str
    message: str
    indices: tuple[int, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "indices": list(self.indices),
                "details": _jsonable(self.details)}


@dataclass(frozen=True, slots=True)
class Verdict:
    """A checker's answer: `valid` is True, False or "unknown" (time limit / undecidable).

    `valid` is False exactly when `anomalies` is non-empty (or a composed part is
    False); warnings never make a history invalid.
    """

    checker: str
    valid: Validity
    anomalies: tuple[Anomaly, ...] = ()
    warnings: tuple[Anomaly, ...] = ()
    stats: Mapping[str, Any] = field(default_factory=dict, hash=False)
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"checker": self.checker, "valid": self.valid,
                "anomalies": [a.to_json() for a in self.anomalies],
                "warnings": [w.to_json() for w in self.warnings],
                "stats": _jsonable(self.stats), "elapsed_s": round(self.elapsed_s, 6)}


def verdict_from(checker: str, anomalies: Iterable[Anomaly], warnings: Iterable[Anomaly] = (),
                 stats: Mapping[str, Any] | None = None, elapsed_s: float = 0.0,
                 unknown: bool = False) -> Verdict:
    """A verdict whose validity follows from its anomalies: any -> False, else unknown/True."""
    found = tuple(anomalies)
    valid: Validity = False if found else ("unknown" if unknown else True)
    return Verdict(checker=checker, valid=valid, anomalies=found, warnings=tuple(warnings),
                   stats=_frozen(stats), elapsed_s=elapsed_s)


def compose(verdicts: Iterable[Verdict], checker: str = "composed") -> Verdict:
    """One verdict of several: false beats "unknown" beats true (harness.exitcodes.combine).

    Anomalies and warnings are concatenated; `stats` maps each part's checker to its stats.
    """
    parts = list(verdicts)
    return Verdict(
        checker=checker,
        valid=combine([v.valid for v in parts]),
        anomalies=tuple(a for v in parts for a in v.anomalies),
        warnings=tuple(w for v in parts for w in v.warnings),
        stats=_frozen({v.checker: dict(v.stats) for v in parts}),
        elapsed_s=sum(v.elapsed_s for v in parts),
    )


def json_key(key: Any) -> Any:
    """A key as anomalies name it: JSON scalars as they are, anything else (a tuple key) as its repr."""
    if key is None or isinstance(key, (str, int, float, bool)):
        return key
    return repr(key)


def _jsonable(value: Any) -> Any:
    """Mappings -> dicts, sequences -> lists, other non-JSON values -> repr (never fails)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return repr(value)
