"""A node's fake wall clock: the control file the harness writes and the library that reads it.

A clock-controlled redis-server runs with `LD_PRELOAD=bin/libmrclock.so` (C source:
harness/cluster/clockshim/clockshim.c) and `MRCLOCK_FILE=<its control file>`. The
library fakes only the wall clock (CLOCK_REALTIME, gettimeofday, time) — what Redis
expires keys by — and leaves the monotonic clock, which drives Redis's timers, real.
It reads the clock's parameters from the memory-mapped control file on every call
(a seqlock read, no system call), so a change written here is seen at once.

Why not libfaketime: Debian's libfaketime hangs Debian's redis-server at start-up
(libfaketime and the shared jemalloc recurse into each other, libfaketime issues
#130/#327/#478); working around it means running Redis off jemalloc and paying ~15
system calls per command to notice changes at once. Faking three functions from a
mapped file works with the stock build and costs nothing measurable. Jepsen ships its
clock tool as C source compiled on the nodes in the same spirit.

The library is never loaded into a Python process: the harness only writes the file.

Clock model (pure functions on `ClockParams`): fake(real) = base_fake + (real -
base_real) * rate. Every change starts a new segment at the current real time,
continuing from the current fake reading — a jump adds to it, a rate change keeps it —
so the fake clock never moves except by an explicit jump.
"""

from __future__ import annotations

import mmap
import os
import shutil
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import EnvironmentFailure

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE = Path(__file__).resolve().parent / "clockshim" / "clockshim.c"
LIBRARY_NAME = "libmrclock.so"
LIBRARY_ENV = "MR_CLOCK_LIB"   # a prebuilt library to use instead of bin/libmrclock.so
FILE_ENV = "MRCLOCK_FILE"      # read by the library in the node: its control file

MAGIC = 0x4B43524D             # "MRCK" (little-endian bytes)
VERSION = 1
CHECK_SALT = 0x6D72636C6F636B31  # "mrclock1"
# magic, version, seq, base_real_ns, base_fake_ns, rate (double), check — clockshim.c's struct
LAYOUT = struct.Struct("=IIQqqdQ")
SEQ_OFFSET = 8
FIELDS = struct.Struct("=qqdQ")      # base_real_ns, base_fake_ns, rate, check
FIELDS_OFFSET = 16
NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ClockParams:
    """fake(real) = base_fake_ns + (real - base_real_ns) * rate (all in ns of CLOCK_REALTIME)."""

    base_real_ns: int
    base_fake_ns: int
    rate: float = 1.0

    def reading(self, real_ns: int) -> int:
        """The fake clock at real time `real_ns` (the library's formula, bit for bit)."""
        elapsed = real_ns - self.base_real_ns
        return self.base_fake_ns + (elapsed if self.rate == 1.0 else int(elapsed * self.rate))

    def offset_ns(self, real_ns: int) -> int:
        """How far the fake clock is ahead of real time at `real_ns` (negative: behind)."""
        return self.reading(real_ns) - real_ns

    def jumped(self, real_ns: int, offset_ns: int) -> "ClockParams":
        """From `real_ns` on, `offset_ns` ahead of where the clock would be; same rate."""
        return ClockParams(real_ns, self.reading(real_ns) + offset_ns, self.rate)

    def rated(self, real_ns: int, rate: float) -> "ClockParams":
        """From `real_ns` on, advancing at `rate`, continuing from the current reading."""
        if not rate > 0:
            raise ValueError(f"a clock rate must be > 0, not {rate!r}")
        return ClockParams(real_ns, self.reading(real_ns), float(rate))

    @staticmethod
    def real(real_ns: int) -> "ClockParams":
        """The real clock."""
        return ClockParams(real_ns, real_ns, 1.0)

    def is_real(self) -> bool:
        return self.rate == 1.0 and self.base_fake_ns == self.base_real_ns


def check_word(base_real_ns: int, base_fake_ns: int, rate: float) -> int:
    """The check the library verifies: xor of the fields' bits and a salt (catches torn reads)."""
    rate_bits = struct.unpack("=Q", struct.pack("=d", rate))[0]
    mask = (1 << 64) - 1
    return (base_real_ns & mask) ^ (base_fake_ns & mask) ^ rate_bits ^ CHECK_SALT


class ClockControl:
    """The control file of one node's clock, mapped for writing (thread-safe).

    `ClockControl(path)` creates (or resets) the file at the real clock. The node
    started with `environment()` reads it; `jump`, `set_rate` and `reset` change it
    (seqlock write: seq odd, fields, seq even). `close()` unmaps; the file stays
    so a node restarted with it keeps its skewed clock, like a machine would.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        now = time.time_ns()
        self._params = ClockParams.real(now)
        with open(self.path, "wb") as handle:
            handle.write(LAYOUT.pack(MAGIC, VERSION, 0, now, now, 1.0, check_word(now, now, 1.0)))
        with open(self.path, "r+b") as handle:
            self._map: mmap.mmap | None = mmap.mmap(handle.fileno(), LAYOUT.size)
        self._seq = 0

    @property
    def params(self) -> ClockParams:
        with self._lock:
            return self._params

    def environment(self, library: Path, base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of a process whose wall clock this file drives."""
        env = dict(os.environ if base is None else base)
        preload = env.get("LD_PRELOAD", "")
        env["LD_PRELOAD"] = f"{library} {preload}".strip()
        env[FILE_ENV] = str(self.path)
        return env

    def now_ns(self) -> int:
        """The node's fake wall clock now."""
        return self.params.reading(time.time_ns())

    def offset_s(self) -> float:
        """Seconds the node's clock is ahead of real time now (negative: behind)."""
        return self.params.offset_ns(time.time_ns()) / NS

    def jump(self, offset_s: float) -> ClockParams:
        """Add `offset_s` seconds to the clock from now (negative: back)."""
        return self._change(lambda p, now: p.jumped(now, round(offset_s * NS)))

    def set_rate(self, rate: float) -> ClockParams:
        """The clock advances at `rate` from now on, continuing from its current reading."""
        return self._change(lambda p, now: p.rated(now, rate))

    def reset(self) -> ClockParams:
        """Back to the real clock (a jump by minus the current offset, rate 1)."""
        return self._change(lambda p, now: ClockParams.real(now))

    def _change(self, change) -> ClockParams:  # type: ignore[no-untyped-def]
        with self._lock:
            if self._map is None:
                raise RuntimeError(f"the clock control {self.path} is closed")
            params = change(self._params, time.time_ns())
            self._write(params)
            self._params = params
            return params

    def _write(self, p: ClockParams) -> None:
        assert self._map is not None
        self._seq += 1  # odd: readers retry until the even value below
        struct.pack_into("=Q", self._map, SEQ_OFFSET, self._seq)
        FIELDS.pack_into(self._map, FIELDS_OFFSET, p.base_real_ns, p.base_fake_ns, p.rate,
                         check_word(p.base_real_ns, p.base_fake_ns, p.rate))
        self._seq += 1
        struct.pack_into("=Q", self._map, SEQ_OFFSET, self._seq)

    def close(self) -> None:
        with self._lock:
            if self._map is not None:
                self._map.close()
                self._map = None


def is_attached(pid: int, control_file: Path) -> bool:
    """True if process `pid` has `control_file` mapped (the library in it loaded and mapped it)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False
    return str(control_file.resolve()) in maps


def find_compiler() -> str | None:
    """$CC, then cc, gcc, clang on PATH."""
    for candidate in (os.environ.get("CC", ""), "cc", "gcc", "clang"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


def clock_library() -> Path:
    """The built clock library: $MR_CLOCK_LIB, or bin/libmrclock.so, built from the C source
    when missing or older than it. Raises EnvironmentFailure (exit 4) without a C compiler."""
    override = os.environ.get(LIBRARY_ENV)
    if override:
        if not os.path.isfile(override):
            raise EnvironmentFailure(f"${LIBRARY_ENV} is {override}, which is not a file")
        return Path(override)
    target = REPO_ROOT / "bin" / LIBRARY_NAME
    if target.is_file() and target.stat().st_mtime >= SOURCE.stat().st_mtime:
        return target
    build_library(target)
    return target


def build_library(target: Path) -> None:
    """Compile clockshim.c into `target` (through a temporary file and a rename: concurrent
    builds never leave half a library)."""
    compiler = find_compiler()
    if compiler is None:
        raise EnvironmentFailure(
            "no C compiler (cc, gcc or clang; or $CC) to build the clock library for clock faults: "
            "install one (Debian: apt-get install gcc) or run `make setup`")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    argv = [compiler, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(tmp), str(SOURCE), "-ldl"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise EnvironmentFailure(f"building the clock library failed ({' '.join(argv)}): "
                                     f"{(done.stderr or done.stdout).strip()[:500]}")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
