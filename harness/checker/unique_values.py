"""Registers whose writes carry unique values: linearizability in O(n log n), no search.

When every value written to a key (by `write`, or as the new value of a `cas`)
is written once and differs from the initial value, each read names the write
it saw, and checking linearizability becomes ordering by real time (Gibbons &
Korach, "Testing shared memories", SIAM J. Comput. 26(4), 1997; the same idea
gives Elle its version orders). Per key:

1. An `info` write or cas whose value nobody observed is dropped: it may always
   be taken as never having happened. One whose value was observed did happen.
2. A read (or cas) of a value no write wrote is an anomaly at once; so is a
   value replaced by two cas ops, or cas ops replacing each other in a ring.
3. A *chain* is a write, the reads of its value, the cas that replaced that
   value (it wrote the next value), that value's reads, and so on. Its ops are
   contiguous in every linearization, in chain order; an op that completed
   before an op it must follow began is an anomaly (a read from the future, a
   non-monotonic read through a cas, ...).
4. A chain's *zone* runs from the earliest completion `a` among its ops to the
   latest invocation `b`. If a < b (a forward zone) the chain occupies all of
   [a, b]; else all its ops fit at one moment of [b, a] (a backward zone). The
   chains can be ordered iff no two forward zones overlap (a cycle: each value
   was written before the other) and no backward zone lies strictly inside a
   forward one (a stale read, a lost write, non-monotonic reads).

These conditions are necessary and sufficient (tests/unit/test_checker_unique_values.py
checks them against the WGL search on thousands of random histories); times
are compared as the WGL search does: ops whose ends touch are concurrent.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.checker.models import READ, WRITE, Model, freeze
from harness.checker.verdict import Anomaly, json_key
from harness.history.events import Op

ALGORITHM = "unique-values"
INFINITY = float("inf")
MAX_ANOMALIES_PER_KEY = 20    # listed; the rest are counted in the verdict's stats
_MAX_VALUES_SHOWN = 4          # values of a chain named in a message

# Anomaly kinds.
UNWRITTEN = "read-of-unwritten-value"
FUTURE = "read-from-future"
STALE = "stale-read"
LOST = "lost-write"
NON_MONOTONIC = "non-monotonic-reads"
CYCLE = "cycle"
DUPLICATE_CAS = "duplicate-cas"
KINDS = (UNWRITTEN, FUTURE, STALE, LOST, NON_MONOTONIC, CYCLE, DUPLICATE_CAS)

_INIT = 0  # op id of the initial value's virtual write (it precedes everything)
# A chain's zone: (a, the op completing at a, b, the op beginning at b) - see the docstring.
Zone = tuple[float, int, float, int]


@dataclass(frozen=True, slots=True)
class KeyVerdict:
    """The outcome for one key: anomalies (at most MAX_ANOMALIES_PER_KEY) and counts."""

    anomalies: tuple[Anomaly, ...]
    unlisted: int          # anomalies found beyond those listed
    checked: int           # ops that took part in the check
    dropped: int           # failed ops, unknown reads, unobserved info writes
    unobserved: int        # of which info writes / cas nobody observed


def check_key(key: Any, ops: Sequence[Op], model: Model) -> KeyVerdict | str:
    """Check one key's ops; a string instead of a verdict says why the values do not
    allow it (a value written twice, or the initial value written): use WGL then.

    Raises BadInput (from `model.prepare`) for an op the model does not know.
    """
    init = model.init()
    prepare = model.prepare
    # Op ids: 0 is the initial value's virtual write; starts/ends in parallel lists.
    op_of: list[Op | None] = [None]
    start: list[float] = [-INFINITY]
    end: list[float] = [-INFINITY]
    writer: dict[Hashable, int] = {}        # value -> id of the op that wrote it
    expected_by: dict[int, Hashable] = {}   # cas id -> the value it expected
    unknown: set[int] = set()               # ids of info writes / cas
    read_ids: list[int] = []
    read_values: list[Hashable] = []
    failed_writer: dict[Hashable, Op] = {}  # value -> a failed write of it (for messages)
    dropped = 0
    for op in ops:
        prepared = prepare(op)
        if prepared is None:
            dropped += 1
            if op.type == "fail" and op.f in ("write", "cas"):
                _remember_failed(failed_writer, op)
            continue
        i = len(op_of)
        op_of.append(op)
        start.append(op.invoke.time)
        complete = op.complete
        end.append(INFINITY if op.type == "info" or complete is None else complete.time)
        tag = prepared[0]
        if tag == READ:
            read_ids.append(i)
            read_values.append(prepared[1])
            continue
        value = prepared[1] if tag == WRITE else prepared[2]
        if value == init:
            return f"a write of the initial value {_show(value)} (index {op.index})"
        earlier = writer.get(value)
        if earlier is not None:
            return (f"the value {_show(value)} is written twice (index {op_of[earlier].index}"  # type: ignore[union-attr]
                    f" and {op.index})")
        writer[value] = i
        if tag != WRITE:
            expected_by[i] = prepared[1]
        if end[i] == INFINITY:
            unknown.add(i)
    writer[init] = _INIT
    return _Check(key, model, init, op_of, start, end, writer, expected_by, unknown, read_ids,
                  read_values, failed_writer, dropped).run()


def _remember_failed(failed_writer: dict[Hashable, Op], op: Op) -> None:
    value = op.value
    if op.f == "cas":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            return
        value = value[1]
    try:
        failed_writer.setdefault(freeze(value), op)
    except TypeError:  # an unhashable value: it only serves a message
        pass


class _Check:
    """The steps 1-4 of the module docstring for one key (a class only to share its tables)."""

    def __init__(self, key: Any, model: Model, init: Hashable, op_of: list[Op | None], start: list[float],
                 end: list[float], writer: dict[Hashable, int], expected_by: dict[int, Hashable],
                 unknown: set[int], read_ids: list[int], read_values: list[Hashable],
                 failed_writer: dict[Hashable, Op], dropped: int) -> None:
        self.key, self.model, self.init = key, model, init
        self.op_of, self.start, self.end = op_of, start, end
        self.writer, self.expected_by, self.unknown = writer, expected_by, unknown
        self.read_ids, self.read_values = read_ids, read_values
        self.failed_writer = failed_writer
        self.dropped = dropped
        self.value_of: dict[int, Hashable] = {i: v for v, i in writer.items()}
        self.anomalies: list[Anomaly] = []
        self.found = 0

    # ------------------------------------------------------------------ steps

    def run(self) -> KeyVerdict:
        unobserved = self._drop_unobserved()
        reads_of = self._reads_by_value()
        fatal = self._check_cas_links()
        if not fatal:
            chains, on_chain = self._chains(reads_of)
            self._check_cycles_of_cas(on_chain)
            # Each conflict below is a proof on its own, so they are sought even after the
            # anomalies above (a read of an unwritten value has left the check).
            zones = [self._walk(chain, reads_of) for chain in chains]
            self._check_zones(zones, chains, reads_of)
        checked = len(self.op_of) - 1 - unobserved
        return KeyVerdict(tuple(self.anomalies), self.found - len(self.anomalies), checked,
                          self.dropped + unobserved, unobserved)

    def _drop_unobserved(self) -> int:
        """Step 1: keep an info write/cas only if its value was read or expected by a cas that
        took effect (an ok cas, or an info cas whose own value was observed)."""
        observed = set(self.read_values)
        observed.update(v for i, v in self.expected_by.items() if i not in self.unknown)
        pending = list(observed)
        while pending:
            i = self.writer.get(pending.pop())
            if i is not None and i in self.unknown and i in self.expected_by:
                expected = self.expected_by[i]
                if expected not in observed:
                    observed.add(expected)
                    pending.append(expected)
        dropped = [i for i in self.unknown if self.value_of[i] not in observed]
        for i in dropped:
            del self.writer[self.value_of[i]]
            self.expected_by.pop(i, None)
        self.effective_cas = self.expected_by
        return len(dropped)

    def _reads_by_value(self) -> dict[Hashable, list[int]]:
        """Step 2 for reads: a read of a value nobody wrote is an anomaly, and leaves the check
        (removing reads cannot hide a conflict among the other ops)."""
        reads_of: dict[Hashable, list[int]] = {}
        writer = self.writer
        for i, value in zip(self.read_ids, self.read_values):
            if value in writer:
                reads_of.setdefault(value, []).append(i)
            else:
                self._unwritten(i, value)
        return reads_of

    def _check_cas_links(self) -> bool:
        """Step 2 for cas: each must expect a written value, and no value is replaced twice.
        Returns True when such an anomaly makes the chains meaningless."""
        fatal = False
        self.next_of: dict[Hashable, int] = {}
        for i, expected in sorted(self.effective_cas.items()):
            if expected not in self.writer:
                self._unwritten(i, expected)
                fatal = True
                continue
            other = self.next_of.get(expected)
            if other is not None:
                fatal = True
                self._add(DUPLICATE_CAS, [self.writer[expected], other, i],
                          f"{self._name(other)} and {self._name(i)} both replaced the value {_show(expected)}, "
                          "which was written once: only one of them could find it",
                          [f"{self._name(other, times=True)} took effect (its value was observed),",
                           f"and so did {self._name(i, times=True)}."])
                continue
            self.next_of[expected] = i
        return fatal

    def _chains(self, reads_of: dict[Hashable, list[int]]) -> tuple[list[list[Hashable]], set[int]]:
        """Step 3: the chains, as lists of values, each from a plain write (or the initial value)
        through the cas ops that replaced it; the set of cas ids reached."""
        chains: list[list[Hashable]] = []
        reached: set[int] = set()
        for value, i in self.writer.items():
            if i in self.effective_cas:
                continue  # written by a cas: inside some chain (or on a ring of cas ops)
            if i == _INIT and value not in reads_of and value not in self.next_of:
                continue  # nobody read the initial value: it constrains nothing
            chain = [value]
            while value in self.next_of:
                cas = self.next_of[value]
                reached.add(cas)
                value = self.value_of[cas]
                chain.append(value)
            chains.append(chain)
        return chains, reached

    def _check_cycles_of_cas(self, on_chain: set[int]) -> None:
        """Cas ops no chain reaches replace each other in a ring (a->b, b->a)."""
        ring = sorted(set(self.effective_cas) - on_chain)
        while ring:
            members, i = [], ring[0]
            while i not in members:
                members.append(i)
                i = self.next_of[self.value_of[i]]
            ring = [j for j in ring if j not in members]
            names = ", ".join(self._name(j) for j in members[:_MAX_VALUES_SHOWN])
            self._add(CYCLE, members, f"cas ops replace each other's values in a ring ({names}): no write "
                      "started it", [f"{self._name(j, times=True)}" for j in members])

    def _walk(self, chain: list[Hashable], reads_of: dict[Hashable, list[int]]) -> Zone:
        """Step 3's order inside a chain, and step 4's zone: (a, op ending at a, b, op starting at b).

        Each op must not complete before the latest invocation among the ops it follows
        (earlier values' ops, and its own value's write for a read)."""
        start, end, writer = self.start, self.end, self.writer
        latest, latest_id = -INFINITY, _INIT       # latest invocation among the ops so far
        earliest, earliest_id = INFINITY, _INIT    # earliest completion
        for value in chain:
            w = writer[value]
            if end[w] < latest:
                self._order_broken(latest_id, w, chain)
            if start[w] > latest:
                latest, latest_id = start[w], w
            if end[w] < earliest:
                earliest, earliest_id = end[w], w
            group_latest, group_latest_id = latest, latest_id
            for r in reads_of.get(value, ()):
                if end[r] < latest:
                    self._order_broken(latest_id, r, chain)
                if start[r] > group_latest:
                    group_latest, group_latest_id = start[r], r
                if end[r] < earliest:
                    earliest, earliest_id = end[r], r
            latest, latest_id = group_latest, group_latest_id
        return earliest, earliest_id, latest, latest_id

    def _check_zones(self, zones: list[Zone], chains: list[list[Hashable]],
                     reads_of: dict[Hashable, list[int]]) -> None:
        """Step 4: forward zones must not overlap; no backward zone lies strictly inside one.

        One op that went back in time (a stale read at the end of a long history) conflicts
        with every value written since: each such op is reported once, beside the value
        that came last before it; the other conflicts are only counted."""
        pairs: list[tuple[int, int]] = []
        forward = sorted((a, b, n) for n, (a, _, b, _) in enumerate(zones) if a < b)
        starts = [a for a, _, _ in forward]
        reach: list[tuple[float, int]] = []   # per forward zone: the furthest end so far, and whose
        furthest, whose = -INFINITY, -1
        for a, b, n in forward:
            if a < furthest:
                pairs.append((whose, n))
            if b > furthest:
                furthest, whose = b, n
            reach.append((furthest, whose))
        for n, (a, _, b, _) in enumerate(zones):
            if a < b:
                continue
            before = bisect_left(starts, b)  # forward zones starting strictly before this one's start
            if before and reach[before - 1][0] > a:
                pairs.append((reach[before - 1][1], n))
        start, end = self.start, self.end
        by_late_op: dict[int, tuple[int, int, int]] = {}   # late r -> (its side, other side, conflicts)
        for one, other in pairs:
            r1, r2 = zones[one][3], zones[other][3]
            if end[r1] < start[r2]:     # told from the side of the op that began later
                one, other, r1, r2 = other, one, r2, r1
            kept = by_late_op.get(r1)
            if kept is None:
                by_late_op[r1] = (one, other, 1)
            else:
                latest = other if end[r2] > end[zones[kept[1]][3]] else kept[1]
                by_late_op[r1] = (one, latest, kept[2] + 1)
        for r1 in sorted(by_late_op, key=start.__getitem__):
            one, other, count = by_late_op[r1]
            self.found += count - 1
            self._conflict(zones[one], zones[other], chains[one], chains[other], reads_of, count - 1)

    # ------------------------------------------------------------------ anomalies

    def _listing_full(self) -> bool:
        """True (and the anomaly counted) when no more anomalies are listed: skip the words."""
        if len(self.anomalies) < MAX_ANOMALIES_PER_KEY:
            return False
        self.found += 1
        return True

    def _unwritten(self, i: int, value: Hashable) -> None:
        if self._listing_full():
            return
        failed = self.failed_writer.get(value)
        why = (f"only a failed write (index {failed.index}) had it, and a failed op did not take effect"
               if failed is not None else "no op wrote it")
        self._add(UNWRITTEN, [i], f"{self._name(i)} {self._saw(i)} {_show(value)}, but {why}",
                  [f"{self._name(i, times=True)}."])

    def _order_broken(self, before: int, after: int, chain: list[Hashable]) -> None:
        """`after` completed before `before` began, but the chain puts `before` first."""
        if self._listing_full():
            return
        b_read, a_read = self._is_read(before), self._is_read(after)
        chain_text = self._chain_text(chain)
        lines = [f"{self._name(after, times=True)} completed before",
                 f"{self._name(before, times=True)} began,",
                 (f"but the values {chain_text} follow each other (each cas replaced the one before it), "
                  "so the second must precede the first.")]
        if a_read and not b_read:
            kind = FUTURE
            message = (f"{self._name(after)} returned {_show(self.read_value(after))}, which "
                       f"{'is' if self.value_of.get(before) == self.read_value(after) else 'descends from'} "
                       f"the value of {self._name(before)}, begun only after the read completed")
            lines = lines[:2] + ["so the read returned a value written in its future."]
        elif a_read:
            kind = NON_MONOTONIC
            message = (f"{self._name(after)} returned {_show(self.read_value(after))}; then "
                       f"{self._name(before)} returned the older {_show(self.read_value(before))}, which a cas "
                       "had replaced")
        elif b_read:
            kind = STALE
            message = (f"{self._name(before)} returned {_show(self.read_value(before))}, which "
                       f"{self._name(after)} had replaced before the read began")
        else:
            kind = FUTURE
            message = (f"{self._name(after)} expected a value that descends from the value of "
                       f"{self._name(before)}, begun only after the cas completed")
        self._add(kind, [before, after], message, lines)

    def _conflict(self, one: Zone, other: Zone, one_chain: list[Hashable], other_chain: list[Hashable],
                  reads_of: dict[Hashable, list[int]], more: int) -> None:
        """Two chains that must each come before the other: an op of each (x, the first to
        complete) completed before an op of the other (r, the last to begin) began.

        Told from the side of `one`, whose r began after the other's r completed (a stale
        read, a lost write, non-monotonic reads); when the two r ops overlap in time,
        neither side is older: a cycle. `more`: other conflicts of the same late op."""
        if self._listing_full():
            return
        _, x1, _, r1 = one
        _, x2, _, r2 = other
        old, new = self._chain_text(one_chain), self._chain_text(other_chain)
        ids = [self.writer[one_chain[0]], x1, r1, self.writer[other_chain[0]], x2, r2]
        seen = self._seen(r1)
        if not self.end[r2] < self.start[r1]:
            self._add(CYCLE, ids, f"{old} and {new} were each written before the other: {self._name(r1)} "
                      f"{self._saw(r1)} {seen} and {self._name(r2)} {self._saw(r2)} {self._seen(r2)}, "
                      "though each began after an op on the other value had completed", [
                          f"{self._completed(x1)} before",
                          f"{self._name(r2, times=True)} began, so {old} came before {new};",
                          f"{self._completed(x2)} before",
                          f"{self._name(r1, times=True)} began, so {new} came before {old}.",
                          *self._more(more)])
            return
        lines = [f"{self._completed(x1)} before",
                 f"{self._name(r2, times=True)} began, so {old} came before {new};",
                 f"{self._name(r2, times=True)} completed before",
                 f"{self._name(r1, times=True)} began, which therefore cannot see {old} any more.",
                 *self._more(more)]
        if self._is_read(r2):
            self._add(NON_MONOTONIC, ids, f"{self._name(r2)} returned {self._seen(r2)}; then {self._name(r1)}, "
                      f"begun after it completed, {self._saw(r1)} the older {seen}", lines)
            return
        observed = any(v in reads_of or v in self.next_of for v in other_chain)
        message = (f"{self._name(r1)} {self._saw(r1)} {seen} although {self._name(r2)} had replaced it "
                   "before it began")
        if not observed:
            message += f"; no op ever observed {new}: the write is lost"
        self._add(STALE if observed else LOST, ids, message, lines)

    @staticmethod
    def _more(more: int) -> list[str]:
        if not more:
            return []
        plural = "s" if more > 1 else ""
        return [f"(The same op conflicts with {more} other value{plural} written in between; this is the latest.)"]

    def _add(self, kind: str, ids: list[int], message: str, lines: list[str]) -> None:
        self.found += 1
        if len(self.anomalies) >= MAX_ANOMALIES_PER_KEY:
            return
        ops = []
        for i in ids:
            op = self.op_of[i]
            if op is not None and op not in ops:
                ops.append(op)
        key = json_key(self.key)
        header = f"Not linearizable ({self.model.name}, key {key!r}): {kind} (decided by the {ALGORITHM} checker)"
        explanation = "\n".join([header, f"  {message}.", *("  " + line for line in lines)])
        self.anomalies.append(Anomaly(
            kind=kind, message=f"key {key!r}: {message}",
            indices=tuple(sorted({index for op in ops for index in op.indices})),
            details={"key": key, "algorithm": ALGORITHM, "prefix": [],
                     "cannot_linearize": sorted(op.index for op in ops), "explanation": explanation}))

    # ------------------------------------------------------------------ words

    def _is_read(self, i: int) -> bool:
        op = self.op_of[i]
        return op is not None and op.f == "read"

    def read_value(self, i: int) -> Hashable:
        prepared = self.model.prepare(self.op_of[i])  # type: ignore[arg-type]
        return prepared[1] if prepared is not None else None

    def _seen(self, i: int) -> str:
        """The value a read returned, or a cas expected."""
        return _show(self.read_value(i)) if self._is_read(i) else _show(self.expected_by.get(i))

    def _completed(self, i: int) -> str:
        if i == _INIT:
            return f"the initial value {_show(self.init)} held from the start, long"
        return f"{self._name(i, times=True)} completed"

    def _saw(self, i: int) -> str:
        return "returned" if self._is_read(i) else "expected"

    def _name(self, i: int, *, times: bool = False) -> str:
        op = self.op_of[i]
        if op is None:
            return f"the initial value {_show(self.init)}"
        prepared = self.model.prepare(op)
        what = self.model.describe_op(prepared) if prepared is not None else op.f
        if op.f == "write" and i in self.unknown:
            what += " (outcome unknown)"
        when = f", t={op.start}..{'?' if op.end is None else op.end}" if times else ""
        return f"{what} (index {op.index}, process {op.process!r}{when})"

    def _chain_text(self, chain: list[Hashable]) -> str:
        shown = [_show(v) for v in chain[:_MAX_VALUES_SHOWN]]
        if len(chain) > _MAX_VALUES_SHOWN:
            shown.append("…")
        return ("value " if len(chain) == 1 else "values ") + "->".join(shown)


def _show(value: Any) -> str:
    return "absent (null)" if value is None else repr(value)
