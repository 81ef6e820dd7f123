"""Each client under test against real redis-server nodes, through its real adapter: in its
own venv and worker process (or in-process for ours). Acquire, a second client refused,
release, then the second gets it; extend where the library supports it.

The venvs are created on first use under .venv-clients/ (HARNESS_CLIENT_VENVS to move
them) and reused afterwards; a fresh creation of all seven takes a few minutes.
"""

from __future__ import annotations

import time

import pytest

from harness.clients import CLIENTS, open_lock_client, prepare_client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=list(CLIENTS))
def client_name(request: pytest.FixtureRequest) -> str:
    prepare_client(request.param)  # the venv (cached after the first run)
    return request.param


def test_second_client_refused_until_release(client_name: str, redis3) -> None:  # type: ignore[no-untyped-def]
    spec = CLIENTS[client_name]
    with open_lock_client(client_name, redis3.urls, socket_timeout=0.5) as first, \
            open_lock_client(client_name, redis3.urls, socket_timeout=0.5) as second:
        before = time.monotonic()
        held = first.acquire("lock-a", ttl=5.0)
        assert held.outcome == "ok", held
        if spec.fencing_tokens:
            assert isinstance(held.token, int)
        else:
            assert held.token is None
        if spec.reports_validity:
            assert held.valid_until is not None and before < held.valid_until <= time.monotonic() + 5.0
        else:
            assert held.valid_until is None

        refused = second.acquire("lock-a", ttl=5.0)
        assert refused.outcome == "refused", refused
        # the key really is on the node(s) the library writes to
        holders = [c for c in redis3.clients() if any(c.scan_iter(match="*lock-a*"))]
        assert len(holders) >= (1 if spec.scope == "single-node" else 2), holders

        released = first.release("lock-a")
        assert released.outcome == "ok", released
        again = second.acquire("lock-a", ttl=5.0)
        assert again.outcome == "ok", again
        if spec.fencing_tokens:
            assert again.token > held.token
        assert second.release("lock-a").outcome == "ok"


def test_extend_where_supported(client_name: str, redis3) -> None:  # type: ignore[no-untyped-def]
    spec = CLIENTS[client_name]
    with open_lock_client(client_name, redis3.urls, socket_timeout=0.5) as first, \
            open_lock_client(client_name, redis3.urls, socket_timeout=0.5) as second:
        assert first.acquire("lock-b", ttl=3.0).outcome == "ok"  # both workers started already
        extended = first.extend("lock-b", ttl=3.0)
        if not spec.extend:
            assert extended.outcome == "unsupported"
            return
        assert extended.outcome == "ok", extended
        # 3.2 s after the grant: past the first ttl, so only the second extend keeps it
        time.sleep(1.6)
        assert first.extend("lock-b", ttl=3.0).outcome == "ok"
        time.sleep(1.6)
        assert second.acquire("lock-b", ttl=3.0).outcome == "refused"
        assert first.release("lock-b").outcome == "ok"
        # a released hold can no longer be extended by its former holder
        assert first.extend("lock-b", ttl=3.0).outcome == "refused"
