"""Fixtures shared by the cluster and fault integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster.local import LocalCluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A started LocalCluster: 3 nodes (appendonly always), 2 client slots; stopped at teardown."""
    made = LocalCluster(3, 2, tmp_path / "run", "appendonly always")
    made.start()
    try:
        yield made
    finally:
        made.stop()
