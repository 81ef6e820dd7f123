"""Append-only recorder of a run's history: one JSON line per event in `history.jsonl`.

Contract:
- thread-safe: any number of worker threads and the nemesis thread record at once;
  the index and the time of an event are assigned under one lock, so the file is in
  index order and times never decrease along it;
- every line is one complete JSON object, written with a single unbuffered write(2)
  as it happens, so a crash (even `os._exit`) keeps every event recorded before it;
- `time` is integer nanoseconds on the injected monotonic clock since the recorder
  was created (the start of the run).

Records after `close()` are dropped (a worker thread still blocked on a socket when
the run ends must not write into a finished history; its op stays without a
completion, which every reader treats as `info`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

NanoClock = Callable[[], int]


class Recorder:
    """Writes history events to `path` (truncated on open)."""

    def __init__(self, path: str | Path, *, clock: NanoClock = time.monotonic_ns) -> None:
        self.path = Path(path)
        self._clock = clock
        self._origin = clock()
        self._lock = threading.Lock()
        self._next_index = 0
        self._invocations = 0
        self._closed = False
        # buffering=0: each event is one write(2) into the kernel, nothing waits in user space.
        self._file = open(self.path, "wb", buffering=0)

    def now(self) -> int:
        """Nanoseconds since the recorder was created, on its clock."""
        return self._clock() - self._origin

    @property
    def count(self) -> int:
        """Events recorded so far."""
        return self._next_index

    @property
    def invocations(self) -> int:
        """`invoke` events recorded so far (ops started)."""
        return self._invocations

    def record(self, process: int | str, type: str, f: str, value: Any = None, *,
               key: Any = None, **extra: Any) -> int | None:
        """Append one event; returns its index (None when the recorder is closed).

        `extra` fields are written beside the standard ones (readers keep them in `Event.extra`).
        """
        # everything but the index and the time is encoded outside the lock, so threads
        # queue on it only for the clock read and the write
        body: dict[str, Any] = {"process": process, "type": type, "f": f}
        if key is not None:
            body["key"] = key
        body["value"] = value
        if extra:
            body.update(extra)
        encoded = json.dumps(body, separators=(",", ":"), default=_jsonable).encode("utf-8")
        with self._lock:
            if self._closed:
                return None
            index = self._next_index
            self._file.write(b'{"index":%d,"time":%d,%s\n' % (index, self.now(), encoded[1:]))
            self._next_index = index + 1
            if type == "invoke":
                self._invocations += 1
            return index

    def close(self) -> None:
        """Stop recording and close the file (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._file.close()

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _jsonable(value: Any) -> Any:
    """Bytes become text (payloads are ASCII in our workloads); sets become sorted lists."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"cannot record {type(value).__name__} in a history: {value!r}")
