"""Workload.bootstrap: the operator step that admits a new cluster's nodes before the clock starts."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.errors import EnvironmentFailure
from harness.workload import base
from harness.workload.queue import QueueParams, QueueWorkload
from majorityredis.runtime import REAL


def closed_port_urls(count: int) -> list[str]:
    """URLs of ports nobody listens on (bound, then released): every connect is refused at once."""
    urls = []
    for _ in range(count):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            urls.append(f"redis://127.0.0.1:{s.getsockname()[1]}")
    return urls


@dataclass
class CountingSleeps:
    """The real runtime, with its sleeps counted (and skipped)."""

    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(REAL, name)


def test_an_unadmittable_cluster_is_an_environment_failure_after_every_attempt() -> None:
    workload = QueueWorkload(QueueParams(type="queue", socket_timeout=0.3), seed=0, clients=2)
    runtime = CountingSleeps()
    with pytest.raises(EnvironmentFailure, match=f"after {base.BOOTSTRAP_ATTEMPTS} attempts") as failure:
        workload.bootstrap(closed_port_urls(3), runtime)  # type: ignore[arg-type]
    assert failure.value.exit_code == 4
    assert "0 of 3 nodes agreed" in str(failure.value)
    assert len(runtime.sleeps) == base.BOOTSTRAP_ATTEMPTS - 1  # it retried between the attempts


def test_bootstrap_waits_longer_than_the_workload_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float] = []

    class Admitted:
        def bootstrap_new_cluster(self) -> list[str]:
            return ["n1", "n2", "n3"]

        def close(self) -> None:
            pass

    workload = QueueWorkload(QueueParams(type="queue", socket_timeout=0.3), seed=0, clients=2)
    monkeypatch.setattr(workload, "connect", lambda urls, runtime, socket_timeout=None: seen.append(socket_timeout)
                        or Admitted())
    workload.bootstrap(closed_port_urls(3))
    assert seen == [base.BOOTSTRAP_TIMEOUT]


def test_no_bootstrap_when_recovery_is_off() -> None:
    workload = QueueWorkload(QueueParams(type="queue", recovery=False), seed=0, clients=2)
    workload.bootstrap(closed_port_urls(3), CountingSleeps())  # type: ignore[arg-type]  # no call: no error
